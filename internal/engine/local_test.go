package engine

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kindling-dev/kindling/internal/build"
	"github.com/kindling-dev/kindling/internal/plan"
)

func TestArtifactRebuildsOnlyForBuildInputsAndKeepsTheLastGoodOne(t *testing.T) {
	out := filepath.Join(t.TempDir(), "app")
	var fail error
	content := "binary v1"
	builder := &build.FakeBuilder{Result: func(s build.Spec) (string, error) {
		if fail != nil {
			return "", fail
		}
		return s.Output, os.WriteFile(s.Output, []byte(content), 0o755)
	}}
	a := &Artifact{Spec: build.Spec{Command: []string{"go", "build"}, Output: out}, Builder: builder, Language: "go", Name: "server", Out: io.Discard}
	ctx := context.Background()

	first, _, err := a.Update(ctx, []string{""})
	if err != nil {
		t.Fatal(err)
	}
	if e := first["server"]; len(first) != 1 || e.Kind != plan.File || !e.Exec {
		t.Fatalf("tree = %+v, want only the executable under the container's name", first)
	}
	if tree, _, _ := a.Update(ctx, []string{"README.md"}); len(builder.Specs()) != 1 || tree["server"] != first["server"] {
		t.Fatalf("a README change rebuilt (%d builds)", len(builder.Specs()))
	}

	fail = errors.New("build failed: exit status 1")
	tree, _, err := a.Update(ctx, []string{"main.go"})
	if err == nil || tree["server"] != first["server"] {
		t.Fatalf("a failed build must report its error and keep the last artifact: %v, %+v", err, tree)
	}

	fail, content = nil, "binary v2"
	tree, src, err := a.Update(ctx, []string{"main.go"})
	if err != nil || tree["server"].Hash == first["server"].Hash {
		t.Fatalf("the fixed build did not produce a new artifact: %v", err)
	}
	r, err := src.Open("server")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "binary v2" {
		t.Fatalf("source serves %q", b)
	}
}

func TestDirStartScanIsTheFirstUpdateAndFillsTheHashCache(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "hashes")
	d := &Dir{Src: src, Excluded: func(string, bool) bool { return false }, HashFile: cache}
	d.StartScan()
	tree, _, err := d.Update(context.Background(), []string{""})
	if err != nil || tree["a.txt"].Hash == "" || len(tree) != 1 {
		t.Fatalf("first Update after StartScan: %v, %v", tree, err)
	}
	if _, err := os.Stat(cache); err != nil {
		t.Errorf("the first scan did not save the hash cache: %v", err)
	}
	// Later updates read the changes, not the started scan again.
	if err := os.WriteFile(filepath.Join(src, "b.txt"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tree, _, err = d.Update(context.Background(), []string{"b.txt"}); err != nil || len(tree) != 2 {
		t.Fatalf("second Update: %v, %v", tree, err)
	}
}
