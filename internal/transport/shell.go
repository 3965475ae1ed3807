package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"

	"github.com/kindling-dev/kindling/internal/plan"
)

// Shell is the Transport that works with what a normal container image has: it runs constant POSIX sh
// scripts through the container's Execer, with GNU or BusyBox tools. Manifest is two or three commands;
// Apply is one carrying a tar stream (or, without tar, a few carrying raw file contents). Use one Shell
// per container: it learns once which tools the container has.
type Shell struct {
	exec     Execer
	excluded plan.Excluded
	prune    []string // pruneArgs of the rules excluded comes from
	warn     func(string)
	cacheDir string
	meter    Meter // nil: no progress is reported
	compress bool  // compress large tar streams where the container can undo it (see codecs)
	kept     keptCopies

	mu    sync.Mutex
	tools map[string]bool // nil until probed
}

// Option configures a Shell.
type Option func(*Shell)

// Excluding leaves the paths excluded reports (and everything inside excluded directories) out of
// Manifest, exactly as plan.Scan does locally: they are never hashed, and so never deleted by a plan.
func Excluding(excluded plan.Excluded) Option {
	return func(s *Shell) { s.excluded = excluded }
}

// Rules are exclude rules that also know which directories they exclude whole (ignore.Matcher).
type Rules interface {
	Excluded(rel string, isDir bool) bool
	Prunable() (names, paths []string)
}

// ExcludingRules is Excluding(r.Excluded), and moreover the container's listing skips the directories
// r excludes whole (an image's node_modules): they are neither read there nor sent. Excluded still
// decides every path that is listed.
func ExcludingRules(r Rules) Option {
	return func(s *Shell) {
		s.excluded = r.Excluded
		s.prune = pruneArgs(r.Prunable())
	}
}

// pruneArgs are the listing scripts' arguments for the directories to skip: names as they are, paths
// from dest as "./path", which the scripts tell apart by the slash.
func pruneArgs(names, paths []string) []string {
	args := append([]string(nil), names...)
	for _, p := range paths {
		args = append(args, "./"+p)
	}
	return args
}

// Warn receives, once per Shell, one line for each way the container makes the sync degrade (no tar,
// no sha256sum, ...); the sync still works.
func Warn(warn func(line string)) Option {
	return func(s *Shell) { s.warn = warn }
}

// Compress compresses the tar streams of large transfers (an initial sync, a branch switch) with zstd where
// the container has zstd, else with gzip where it has gzip, else not at all (see codecs): for a link where
// bytes cost more than CPU, such as a cluster that is not on this machine.
func Compress(on bool) Option {
	return func(s *Shell) { s.compress = on }
}

// NewShell returns a Transport into the container that e runs commands in.
func NewShell(e Execer, opts ...Option) *Shell {
	s := &Shell{exec: e}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ErrNoShell is what a NoShellError is: the container has no sh, so this transport cannot work there.
var ErrNoShell = errors.New("no shell in the container")

// NoShellError says that a container has no sh.
type NoShellError struct{ Target string }

func (e *NoShellError) Error() string {
	return e.Target + " has no sh, which kindling needs to sync files: add --restart, and kindling brings its own " +
		"(a static BusyBox from --helper-image, through an init container) and restarts the app after each sync"
}

func (e *NoShellError) Unwrap() error { return ErrNoShell }

// ErrNotWritable is what a NotWritableError is.
var ErrNotWritable = errors.New("destination not writable")

// NotWritableError says that dest cannot be created or written in the container.
type NotWritableError struct {
	Dest, Target string
	Reason       string // as the container said it, e.g. "permission denied"
}

func (e *NotWritableError) Error() string {
	return fmt.Sprintf("cannot write to %s in %s: %s; add --restart (each new pod then gets %[1]s as a copy its user owns), "+
		"or make it the container user's (fsGroup in the pod's securityContext, or chown in the Dockerfile)",
		e.Dest, e.Target, e.Reason)
}

func (e *NotWritableError) Unwrap() error { return ErrNotWritable }

// Probe finds out, with one command the first time it is called, which tools the container has. It
// returns the warnings (also given to the Warn option) and a *NoShellError if there is no sh.
func (s *Shell) Probe(ctx context.Context) ([]string, error) {
	tools, err := s.probe(ctx)
	if err != nil {
		return nil, err
	}
	return s.warnings(tools), nil
}

func (s *Shell) probe(ctx context.Context) (map[string]bool, error) {
	tools, fresh, err := s.probeOnce(ctx)
	if fresh && s.warn != nil {
		for _, w := range s.warnings(tools) {
			s.warn(w)
		}
	}
	return tools, err
}

// probed reports whether the tools are known.
func (s *Shell) probed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tools != nil
}

// probeOnce runs the probe unless an earlier call succeeded; fresh says it ran now.
func (s *Shell) probeOnce(ctx context.Context) (tools map[string]bool, fresh bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tools != nil {
		return s.tools, false, nil
	}
	if session, ok := s.exec.(interface {
		Tools(context.Context) (map[string]bool, bool)
	}); ok {
		if tools, ok := session.Tools(ctx); ok {
			s.tools = tools
			return tools, true, nil
		}
	}
	var stdout, stderr bytes.Buffer
	argv := append([]string{"sh", "-c", probeScript, "kindling"}, probeTools...)
	err = s.exec.Exec(ctx, argv, nil, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != probeDone {
		if ctx.Err() == nil && isCommandNotFound(err) {
			return nil, false, &NoShellError{Target: s.exec.Target()}
		}
		return nil, false, s.failure("checking the tools in", "", err, stderr.Bytes())
	}
	tools = map[string]bool{}
	for _, l := range lines[:len(lines)-1] {
		tools[l] = true
	}
	s.tools = tools
	return tools, true, nil
}

// isCommandNotFound recognizes the failure to start a command: exec.ErrNotFound locally, the OCI
// runtime's message through a Kubernetes exec.
func isCommandNotFound(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "executable file not found")
}

// How a container's tools decide what Shell can do.
func canTar(t map[string]bool) bool      { return all(t, "tar", "mkdir", "mv", "rm") }
func canManifest(t map[string]bool) bool { return all(t, "find", "xargs", "stat") }

// canFill: see fillScript, which needs a dd that reads whole blocks and a way to check file sizes.
func canFill(t map[string]bool) bool {
	return all(t, "dd", ddFullblock, "mkdir", "mv", "rm", "ln", "chmod") && (t["stat"] || t["wc"])
}

func all(t map[string]bool, names ...string) bool {
	for _, n := range names {
		if !t[n] {
			return false
		}
	}
	return true
}

func missing(t map[string]bool, names ...string) string {
	var m []string
	for _, n := range names {
		if !t[n] {
			m = append(m, n)
		}
	}
	return strings.Join(m, ", ")
}

func (s *Shell) warnings(t map[string]bool) []string {
	target := s.exec.Target()
	var w []string
	if !canTar(t) && canFill(t) {
		w = append(w, target+" has no "+missing(t, "tar", "mkdir", "mv", "rm")+
			": copying files with sh and dd instead, several execs per sync (slower); add tar to the image for faster syncs")
	}
	switch {
	case !canManifest(t):
		w = append(w, target+" has no "+missing(t, "find", "xargs", "stat")+
			": kindling cannot see the files already there, so it sends every file and deletes none it did not send")
	case !t["sha256sum"]:
		w = append(w, target+" has no sha256sum: kindling cannot tell unchanged files apart, so it sends every file")
	}
	return w
}

// failure turns a failed exec into one line naming the container and what the command said.
func (s *Shell) failure(doing, dest string, err error, stderr []byte) error {
	where := s.exec.Target()
	if dest != "" {
		where = dest + " in " + where
	}
	detail := tail(stderr)
	if detail == "" && err != nil {
		detail = err.Error()
	}
	return fmt.Errorf("%s %s failed: %s", doing, where, detail)
}

// tail is the last few lines of a command's error output, on one line.
func tail(stderr []byte) string {
	const maxLines, maxLen = 3, 400
	var lines []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	s := strings.Join(lines, " | ")
	if len(s) > maxLen {
		s = "…" + s[len(s)-maxLen:]
	}
	return s
}
