package transport

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
)

// Op says what a command Shell runs is for; tests use it to check which commands ran.
type Op string

const (
	OpProbe    Op = "probe"    // which tools the container has
	OpManifest Op = "manifest" // list the tree under dest
	OpDescribe Op = "describe" // stat paths under dest
	OpHash     Op = "hash"     // stat and hash paths under dest
	OpApply    Op = "apply"    // extract a tar stream and commit it
	OpFill     Op = "fill"     // without tar: write part of the staging directory
	OpCommit   Op = "commit"   // without tar: commit the staging directory
	OpDelete   Op = "delete"   // deletions that did not fit on the main command line
	OpOther    Op = "other"    // not a Shell command
)

// OpOf tells which Shell command argv is.
func OpOf(argv []string) Op {
	if len(argv) < 3 || argv[0] != "sh" || argv[1] != "-c" {
		return OpOther
	}
	switch argv[2] {
	case probeScript:
		return OpProbe
	case listScript, listStatScript:
		return OpManifest
	case describeScript:
		if len(argv) > 6 && argv[6] == "sha256" {
			return OpHash
		}
		return OpDescribe
	case tarApplyScript, gzipApplyScript, zstdApplyScript:
		return OpApply
	case fillScript:
		return OpFill
	case commitScript:
		return OpCommit
	case deleteScript:
		return OpDelete
	}
	return OpOther
}

// Call is one command a RecordingExecer received.
type Call struct {
	Op   Op
	Argv []string
	// Stdin is the number of bytes the command was given on stdin.
	Stdin int64
}

// RecordingExecer is a fake Execer for tests: it records each command and answers with canned output.
// By default the probe reports every tool (or Tools, when set), a manifest reports an absent dest and
// every other command succeeds silently.
type RecordingExecer struct {
	Name string
	// Tools, when not nil, are the only tools the probe reports.
	Tools []string
	// Respond, when set, answers every command but the probe.
	Respond func(c Call) (stdout string, err error)

	mu    sync.Mutex
	calls []Call
}

func (r *RecordingExecer) Target() string { return r.Name }

func (r *RecordingExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, _ io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := Call{Op: OpOf(argv), Argv: slices.Clone(argv)}
	var out string
	var err error
	switch {
	case c.Op == OpProbe:
		tools := r.Tools
		if tools == nil {
			tools = probeTools
		}
		out = strings.Join(append(slices.Clone(tools), probeDone), "\n") + "\n"
	case r.Respond != nil:
		out, err = r.Respond(c)
	}
	if stdout != nil {
		io.WriteString(stdout, out)
	}
	if stdin != nil {
		c.Stdin, _ = io.Copy(io.Discard, stdin)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return err
}

// Calls returns the commands received so far.
func (r *RecordingExecer) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}
