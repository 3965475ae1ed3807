// Package build compiles an app locally for the platform of the node its pod runs on. It derives the
// default build command and artifact per language (Default) or takes the user's (Custom), and runs the
// build with its output streamed to the user (Local); FakeBuilder stands in for it in engine tests.
// UsesFile tells which changed files can affect a build, so that editing a README does not rebuild.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Platform is a node's OS and architecture as Kubernetes reports them (status.nodeInfo.operatingSystem
// and .architecture), which are Go's GOOS and GOARCH names.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Host is the platform kindling runs on: a build for it needs no cross toolchain.
func Host() Platform { return Platform{OS: goruntime.GOOS, Arch: goruntime.GOARCH} }

// Spec is one build: a command run in Dir with Env added, and where its artifact lands.
type Spec struct {
	// Language is the build's language key (go, rust, …); empty for a custom build.
	Language string
	// Command is the argv to run; a user's --build-cmd runs as ["sh", "-c", line].
	Command []string
	// Env is added to kindling's environment (GOOS=linux, …).
	Env []string
	// Dir is the working directory, the source tree.
	Dir string
	// Output is the artifact's path. A glob in its last element (target/*.jar), or a directory followed by
	// "/..." (search the tree), stands for the newest file the build wrote: a jar that is not a sources,
	// javadoc, tests, plain or original jar, or else an executable.
	Output string
	// Collect, when set, is where the artifact is copied after the build: the build wrote it into the
	// source tree (cargo's and maven's target/), which another session building the same tree shares.
	Collect string
}

// Languages lists the languages Default knows.
func Languages() []string {
	names := make([]string, 0, len(toolchains))
	for name := range toolchains {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Default derives the build of a language for a platform. Its artifact goes under tmpDir, a directory
// of the caller's session, so that two sessions never share one.
func Default(language, src string, p Platform, tmpDir string) (Spec, error) {
	derive, ok := toolchains[language]
	if !ok {
		return Spec{}, fmt.Errorf("no default build for language %q: kindling builds %s; pass --build-cmd and --build-output",
			language, strings.Join(Languages(), ", "))
	}
	spec, err := derive(src, p, tmpDir)
	if err != nil {
		return Spec{}, fmt.Errorf("%s build: %w", language, err)
	}
	spec.Language, spec.Dir = language, src
	return spec, nil
}

// Custom is the build of --build-cmd (a shell line, run by sh in src) and --build-output (relative to
// src; it may be a glob, see Spec.Output).
func Custom(cmdLine, output, src string) Spec {
	if !filepath.IsAbs(output) {
		output = filepath.Join(src, output)
	}
	return Spec{Command: []string{"sh", "-c", cmdLine}, Dir: src, Output: output}
}

// Builder runs builds.
type Builder interface {
	// Build runs spec with its output streamed to out and returns the artifact's path. On failure the
	// error says so in one line; the compiler's own messages have already gone to out.
	Build(ctx context.Context, spec Spec, out io.Writer) (artifact string, err error)
}

// Local runs builds on this machine.
type Local struct{}

// Build implements Builder.
func (Local) Build(ctx context.Context, spec Spec, out io.Writer) (string, error) {
	if len(spec.Command) == 0 {
		return "", errors.New("build: empty build command")
	}
	// Filesystems keep modification times at up to a second's resolution; the artifact of this build is
	// at least as new as the second the build started.
	start := time.Now().Truncate(time.Second)
	cmd := exec.CommandContext(ctx, spec.Command[0], spec.Command[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	// A compiler that outlives a killed build (or keeps the output pipe) must not hang kindling.
	cmd.WaitDelay = 5 * time.Second
	killGroupOnCancel(cmd)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("build interrupted: %w", ctx.Err())
		}
		return "", fmt.Errorf("build failed: %s: %v (its output is above); the app keeps running the previous build",
			commandLine(spec.Command), err)
	}
	artifact, err := findOutput(spec.Output, start)
	if err != nil {
		return "", err
	}
	if spec.Collect == "" {
		return artifact, nil
	}
	if err := copyFile(artifact, spec.Collect); err != nil {
		return "", fmt.Errorf("build: collecting the artifact: %w", err)
	}
	return spec.Collect, nil
}

// commandLine renders a command for a message; a shell line shows as the user wrote it.
func commandLine(argv []string) string {
	if len(argv) == 3 && argv[0] == "sh" && argv[1] == "-c" {
		return "`" + argv[2] + "`"
	}
	return "`" + strings.Join(argv, " ") + "`"
}

// copyFile copies an artifact with its mode, through a temporary name and a rename so that a reader
// never sees half a file.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(to), ".collect-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}

// FakeBuilder records builds instead of running them, for engine tests. It is safe for concurrent use.
type FakeBuilder struct {
	// Result, when set, decides each build's outcome; by default a build succeeds and returns the spec's
	// artifact path (Collect, else Output).
	Result func(Spec) (artifact string, err error)

	mu    sync.Mutex
	specs []Spec
}

// Build implements Builder: it records spec, writes the command line to out and returns Result's outcome.
func (f *FakeBuilder) Build(ctx context.Context, spec Spec, out io.Writer) (string, error) {
	f.mu.Lock()
	f.specs = append(f.specs, spec)
	f.mu.Unlock()
	fmt.Fprintf(out, "fake build: %s\n", commandLine(spec.Command))
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("build interrupted: %w", err)
	}
	if f.Result != nil {
		return f.Result(spec)
	}
	if spec.Collect != "" {
		return spec.Collect, nil
	}
	return spec.Output, nil
}

// Specs returns the builds run so far, in order.
func (f *FakeBuilder) Specs() []Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.specs)
}

// namesOf returns the sorted base names of the files in dir matching any of the patterns.
func namesOf(dir string, patterns ...string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, e.Name()); ok && !e.IsDir() {
				names = append(names, e.Name())
				break
			}
		}
	}
	return slices.Compact(names)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
