package build

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/testenv"
)

// realBuild builds src with the language's default for this machine and runs the artifact.
func realBuild(t *testing.T, language, tool string, files []string, run func(artifact string) *exec.Cmd, want string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed; hack/cluster/deps installs it", tool)
	}
	src := writeTree(t, files...)
	spec, err := Default(language, src, Host(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	artifact, err := Local{}.Build(context.Background(), spec, &log)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if rel, err := filepath.Rel(src, artifact); err == nil && !strings.HasPrefix(rel, "..") {
		t.Errorf("artifact %s is in the shared source tree", artifact)
	}
	out, err := run(artifact).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("running %s: %q, %v; want %q", artifact, out, err, want)
	}
}

func runs(artifact string) *exec.Cmd { return exec.Command(artifact) }

func TestLocalBuildGo(t *testing.T) {
	realBuild(t, "go", "go", []string{"go.mod=module example.com/hello\n\ngo 1.22\n",
		"main.go=package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from go\") }\n"}, runs, "hello from go")
}

func TestLocalBuildC(t *testing.T) {
	realBuild(t, "c", "gcc", []string{"main.c=#include <stdio.h>\n#include \"msg.h\"\nint main(void) { puts(MSG); return 0; }\n",
		"msg.h=#define MSG \"hello from c\"\n"}, runs, "hello from c")
}

func TestLocalBuildMake(t *testing.T) {
	realBuild(t, "c", "make", []string{"Makefile=server: main.c\n\t$(CC) $(LDFLAGS) -o server main.c\n",
		"main.c=#include <stdio.h>\nint main(void) { puts(\"hello from make\"); return 0; }\n", "run.sh=#!/bin/sh\n"}, runs, "hello from make")
}

func TestLocalBuildCpp(t *testing.T) {
	realBuild(t, "cpp", "g++", []string{"main.cpp=#include <iostream>\nint main() { std::cout << \"hello from c++\" << std::endl; }\n"},
		runs, "hello from c++")
}

func TestLocalBuildRust(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "cargo takes seconds")
	}
	realBuild(t, "rust", "cargo", []string{"Cargo.toml=[package]\nname = \"hello-rs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
		"src/main.rs=fn main() { println!(\"hello from rust\"); }\n"}, runs, "hello from rust")
}

func TestLocalBuildJava(t *testing.T) {
	realBuild(t, "java", "javac", []string{"src/com/example/Main.java=" + strings.ReplaceAll(helloJava, `"hello"`, `"hello from java"`)},
		func(jar string) *exec.Cmd { return exec.Command("java", "-jar", jar) }, "hello from java")
}

func TestLocalBuildGoCross(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "a cross build compiles the standard library once")
	}
	src := writeTree(t, "go.mod=module example.com/hello\n\ngo 1.22\n", "main.go=package main\n\nfunc main() {}\n")
	spec, err := Default("go", src, Platform{OS: "linux", Arch: "arm64"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	artifact, err := Local{}.Build(context.Background(), spec, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 20)
	f, err := os.Open(artifact)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(head); err != nil {
		t.Fatal(err)
	}
	// ELF e_machine 0xB7 is AArch64.
	if string(head[:4]) != "\x7fELF" || head[18] != 0xB7 {
		t.Errorf("artifact is not an arm64 ELF binary: % x", head)
	}
}

func TestLocalBuildFailure(t *testing.T) {
	src := writeTree(t, "go.mod=module example.com/broken\n\ngo 1.22\n", "main.go=package main\n\nfunc main() { undefinedThing() }\n")
	spec, err := Default("go", src, Host(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	_, err = Local{}.Build(context.Background(), spec, &log)
	if err == nil {
		t.Fatal("a broken build succeeded")
	}
	for _, want := range []string{"build failed", "`go build -o", "exit status 1", "the app keeps running the previous build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !strings.Contains(log.String(), "undefined: undefinedThing") {
		t.Errorf("the compiler's error was not streamed: %q", log.String())
	}
}

func TestLocalBuildCancelKillsTheGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := Local{}.Build(ctx, Custom("sleep 30 & sleep 30; wait", "out", t.TempDir()), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "build interrupted") {
		t.Fatalf("error = %v, want an interrupted build", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("cancel took %v: the build's children kept it alive", d)
	}
}

// A build that writes into the source tree has its artifact copied to the session's own path, with its
// executable bit; the newest application jar is chosen over older and secondary ones.
func TestLocalBuildCollectsTheNewestArtifact(t *testing.T) {
	src := writeTree(t, "target/old.jar=old")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(src, "target", "old.jar"), old, old); err != nil {
		t.Fatal(err)
	}
	collect := filepath.Join(t.TempDir(), "app.jar")
	spec := Spec{
		Command: []string{"sh", "-c", "echo app > target/app-1.0.jar && echo src > target/app-1.0-sources.jar && chmod 755 target/app-1.0.jar"},
		Dir:     src, Output: filepath.Join(src, "target", "*.jar"), Collect: collect,
	}
	artifact, err := Local{}.Build(context.Background(), spec, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(artifact)
	if err != nil || artifact != collect || string(data) != "app\n" {
		t.Fatalf("artifact %s holds %q, %v; want %s holding the new jar", artifact, data, err, collect)
	}
	if info, _ := os.Stat(artifact); info.Mode().Perm() != 0o755 {
		t.Errorf("collected mode %v, want 0755", info.Mode().Perm())
	}
}

func TestFindOutput(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	stale := start.Add(-time.Hour)
	tests := []struct {
		name   string
		files  map[string]os.FileMode // written now unless listed in old
		old    []string
		output string // relative to the tree
		want   string // relative; "" means an error
	}{
		{name: "exact", files: map[string]os.FileMode{"bin/app": 0o755}, output: "bin/app", want: "bin/app"},
		{name: "exact missing", files: map[string]os.FileMode{}, output: "bin/app"},
		{name: "jar glob skips secondary jars", output: "target/*.jar", want: "target/svc.jar",
			files: map[string]os.FileMode{"target/svc.jar": 0o644, "target/svc-javadoc.jar": 0o644, "target/original-svc.jar": 0o644,
				"target/svc-plain.jar": 0o644, "target/svc-tests.jar": 0o644}},
		{name: "jar glob skips stale jars", output: "target/*.jar", old: []string{"target/stale.jar"},
			files: map[string]os.FileMode{"target/stale.jar": 0o644}},
		{name: "tree finds the executable", output: "...", want: "build/server",
			files: map[string]os.FileMode{"main.c": 0o644, "main.o": 0o644, "build/server": 0o755, "build/libx.so.1": 0o755,
				"CMakeFiles/a.out": 0o755, ".git/hooks/x": 0o755}},
		{name: "tree without executable", output: "...", files: map[string]os.FileMode{"main.o": 0o644}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mode := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(name), mode); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tt.old {
				if err := os.Chtimes(filepath.Join(dir, name), stale, stale); err != nil {
					t.Fatal(err)
				}
			}
			got, err := findOutput(filepath.Join(dir, tt.output), start)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "pass --build-output") {
					t.Fatalf("findOutput = %q, %v; want an error naming --build-output", got, err)
				}
				return
			}
			if err != nil || got != filepath.Join(dir, tt.want) {
				t.Errorf("findOutput = %q, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestFakeBuilder(t *testing.T) {
	var f FakeBuilder
	var log bytes.Buffer
	a, err := f.Build(context.Background(), Spec{Command: []string{"go", "build"}, Output: "/tmp/s/app"}, &log)
	if err != nil || a != "/tmp/s/app" {
		t.Errorf("Build = %q, %v; want the spec's output", a, err)
	}
	a, _ = f.Build(context.Background(), Spec{Command: []string{"mvn"}, Output: "/src/target/*.jar", Collect: "/tmp/s/app.jar"}, &log)
	if a != "/tmp/s/app.jar" {
		t.Errorf("Build = %q, want the collected path", a)
	}
	broken := errors.New("build failed: exit status 1")
	f.Result = func(Spec) (string, error) { return "", broken }
	if _, err := f.Build(context.Background(), Spec{Command: []string{"sh", "-c", "make"}}, &log); !errors.Is(err, broken) {
		t.Errorf("Build error = %v, want Result's", err)
	}
	if got := len(f.Specs()); got != 3 {
		t.Errorf("recorded %d builds, want 3", got)
	}
	if want := "fake build: `go build`\nfake build: `mvn`\nfake build: `make`\n"; log.String() != want {
		t.Errorf("log = %q, want %q", log.String(), want)
	}
}
