// Package runtime tells which runtime runs in a container and how it picks up new code. It classifies the
// container's process table (or, when that cannot be read, the Deployment's command and args, then source
// markers in the local tree) against one data table with a row per runtime; the row says the strategy
// (wrapper restart, reload signal, nothing, local build) and, for servers, the signal. It does no cluster
// I/O: the caller runs ProcScript in the container and hands the parsed processes to Detect.
package runtime

import (
	"fmt"
	"sort"
	"strings"
)

// Strategy is how a runtime is made to serve synced code.
type Strategy string

const (
	// Wrapper runs the app under kindling's restart supervisor, which restarts it after a sync.
	Wrapper Strategy = "wrapper"
	// Signal sends the server's graceful-reload signal to its master process.
	Signal Strategy = "signal"
	// None only syncs: the runtime reads changed files by itself.
	None Strategy = "none"
	// Build compiles locally, syncs the artifact and restarts the app through the supervisor.
	Build Strategy = "build"
)

// SupervisorMarker ends the path of kindling's restart supervisor script. A process whose argv[0] or
// argv[1] (the script run by sh) ends in it is kindling's own wrapper: detection looks at its children.
const SupervisorMarker = "kindling-supervisor"

// Runtime is one row of the table: what runs, and how it picks up new code.
type Runtime struct {
	// Name is the lower-case identifier --language accepts.
	Name string
	// Display names the runtime for people, e.g. "Node.js".
	Display string
	// Language is the source language, e.g. "python" for gunicorn; for Build runtimes it is the key
	// package build knows (go, rust, java, kotlin, dotnet, c, cpp, zig).
	Language string
	Strategy Strategy
	// Signal is the reload signal's name without "SIG" (HUP, USR1, USR2), as `kill -s` takes it; empty
	// unless Strategy is Signal.
	Signal string
	// Why says in one sentence why this strategy (and signal) makes the runtime serve new code.
	Why string
	// Notes are caveats shown with every detection of this runtime.
	Notes []string
	// Aliases are further names --language accepts.
	Aliases []string
}

// Languages lists the canonical values --language accepts, sorted.
func Languages() []string {
	names := make([]string, 0, len(table))
	for _, e := range table {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return names
}

// Lookup finds a runtime by its name or an alias, ignoring case.
func Lookup(name string) (Runtime, error) {
	want := strings.ToLower(strings.TrimSpace(name))
	for _, e := range table {
		if e.Name == want {
			return e.Runtime, nil
		}
		for _, a := range e.Aliases {
			if a == want {
				return e.Runtime, nil
			}
		}
	}
	return Runtime{}, fmt.Errorf("unknown --language %q: use one of %s", name, strings.Join(Languages(), ", "))
}

// entry returns the table row of a runtime name; names come from the table itself.
func entry(name string) *row {
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	panic("runtime: no table row " + name)
}
