// Package cli holds kindling's commands and turns flags into options for the engine.
package cli

// Execute runs the command line and returns the process exit code.
func Execute() int { return 0 }
