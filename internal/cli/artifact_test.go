package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/build"
	"github.com/kindling-dev/kindling/internal/restart"
	"github.com/kindling-dev/kindling/internal/runtime"
	"github.com/kindling-dev/kindling/internal/watch"
)

// The compiled strategy writes its artifact into the running executable's directory, which must pass
// --dest's checks: never / (the staging directory and the rename land there).
func TestArtifactTargetStaysInsideADirectory(t *testing.T) {
	spec := build.Spec{Output: "/tmp/kindling-build-1/server"}
	for _, tt := range []struct {
		running []string
		want    string // "" means refused
	}{
		{[]string{"/app/server", "-port", "8080"}, "/app/server"},
		{nil, "/app/server"}, // nothing running: --dest
		{[]string{"/server"}, ""},
		{[]string{"/app/../server"}, ""},
		{[]string{"/usr/local/bin/gw"}, "/usr/local/bin/gw"},
	} {
		var p *runtime.Process
		if tt.running != nil {
			p = &runtime.Process{PID: 1, Argv: tt.running}
		}
		got, err := artifactTarget(p, "/app", spec)
		switch {
		case tt.want == "" && (err == nil || !strings.Contains(err.Error(), "move it in the image")):
			t.Errorf("%q: target %q, err %v; want a refusal saying what to do", tt.running, got, err)
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("%q: target %q, err %v; want %q", tt.running, got, err, tt.want)
		}
	}
}

// A --build-output inside --src is not watched: each build writes it, and a change there would start
// the next build, forever. Every other file still is.
func TestWatcherIgnoresTheBuildOutputInsideSrc(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	none := func(string, bool) bool { return false }
	w, err := watch.New(src, watchExcluded(none, src, "./bin/gw"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	writeTestFile(t, src, "bin/gw", "binary")
	writeTestFile(t, src, "main.go", "package main")
	for {
		select {
		case p := <-w.Changes():
			if p == "bin/gw" {
				t.Fatal("the build output was reported as a change")
			}
			if p == "main.go" {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event for main.go")
		}
	}
}

func TestWatchExcludedLeavesAnOutputOutsideSrcAlone(t *testing.T) {
	src := t.TempDir()
	none := func(string, bool) bool { return false }
	for _, out := range []string{"", "../gw", filepath.Join(t.TempDir(), "gw")} {
		if watchExcluded(none, src, out)("gw", false) {
			t.Errorf("--build-output %q excludes gw in --src", out)
		}
	}
	if !watchExcluded(none, src, filepath.Join(src, "out", "gw"))("out/gw", false) {
		t.Error("an absolute --build-output inside --src is watched")
	}
}

// A crash report carries the end of the container's log, without the supervisor's own lines.
func TestCrashReportShowsTheAppsLastOutput(t *testing.T) {
	f := newFakeCluster()
	c, _ := f.connect()
	// client-go's fake answers every log request with "fake logs".
	lines := containerLogTail(c, "ns")(context.Background(), "pod/web-1/app")
	if len(lines) != 1 || lines[0] != "fake logs" {
		t.Fatalf("log tail = %q", lines)
	}
	if containerLogTail(c, "ns")(context.Background(), "not-a-target") != nil {
		t.Error("a target that names no pod gave lines")
	}
	crash := &restart.CrashError{Target: "pod/web-1/app", Status: 1, Output: []string{"  File \"/app/server.py\", line 3", "SyntaxError: invalid syntax"}}
	if msg := crash.Error(); !strings.Contains(msg, "status 1") || !strings.HasSuffix(msg, "Its last output:\n      File \"/app/server.py\", line 3\n    SyntaxError: invalid syntax") {
		t.Errorf("crash report:\n%s", msg)
	}
}
