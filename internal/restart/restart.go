// Package restart makes the app in a container pick up synced files: a supervisor that restarts it, a
// graceful reload signal, or nothing for runtimes that reload by themselves.
package restart
