package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/plan"
)

// listingReader is an Execer that keeps what the listing commands answered, unzipped.
type listingReader struct {
	Execer
	listed bytes.Buffer
}

func (l *listingReader) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if OpOf(argv) != OpManifest {
		return l.Execer.Exec(ctx, argv, stdin, stdout, stderr)
	}
	var out bytes.Buffer
	err := l.Execer.Exec(ctx, argv, stdin, io.MultiWriter(stdout, &out), stderr)
	if zr, zerr := gzip.NewReader(bytes.NewReader(out.Bytes())); zerr == nil {
		io.Copy(&l.listed, zr)
	} else {
		l.listed.Write(out.Bytes())
	}
	return err
}

// TestManifestPrunesExcludedDirectoriesInTheContainer: a node_modules that only the image has (and the
// other directories the rules exclude whole) is not listed by the container at all, and the tree is the
// one Excluding alone gives.
func TestManifestPrunesExcludedDirectoriesInTheContainer(t *testing.T) {
	files := map[string]node{"app.js": file("app"), "web/index.js": file("x"), "vendor/lib.go": file("v"), "build": file("a file named build")}
	for i := range 2000 {
		files[fmt.Sprintf("node_modules/pkg%d/index.js", i%100)+fmt.Sprint(i)] = file("module")
	}
	for i := range 50 {
		files[fmt.Sprintf("web/node_modules/m%d", i)] = file("module")
		files[fmt.Sprintf(".git/objects/%d", i)] = file("object")
		files[fmt.Sprintf("web/cache/%d", i)] = file("cache")
	}
	files["link/node_modules"] = symlink("/") // a symlink is listed (and then excluded): find does not follow it
	for _, c := range withSessions(t, containers(t)) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dest := t.TempDir()
			build(t, dest, files)
			// vendor is re-included, so it cannot be pruned; /web/cache is an anchored path.
			m, err := ignore.New(t.TempDir(), []string{"!vendor/", "/web/cache"})
			if err != nil {
				t.Fatal(err)
			}
			var want plan.Tree
			var listedWithout int
			{
				l := &listingReader{Execer: &LocalExecer{Name: "pod/test/" + c.name, Path: c.path}}
				if want, err = NewShell(l, Excluding(m.Excluded)).Manifest(ctx, dest); err != nil {
					t.Fatal(err)
				}
				listedWithout = l.listed.Len()
			}
			var e Execer = &LocalExecer{Name: "pod/test/" + c.name, Path: c.path}
			if c.session {
				s := NewSession(e)
				defer s.Close()
				e = s
			}
			l := &listingReader{Execer: e}
			got, err := NewShell(l, ExcludingRules(m)).Manifest(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if d := plan.FirstDifference(want, got); d != "" {
				t.Fatalf("pruned manifest vs Excluding's: %s", d)
			}
			if _, ok := got["vendor/lib.go"]; !ok {
				t.Errorf("vendor/lib.go, re-included, is missing")
			}
			listing := l.listed.Bytes()
			for _, pruned := range []string{"./node_modules/", "./web/node_modules/", "./.git/", "./web/cache/"} {
				if bytes.Contains(listing, []byte(pruned)) {
					t.Errorf("the container listed %s", pruned)
				}
			}
			if l.listed.Len()*5 > listedWithout {
				t.Errorf("the container listed %d bytes, %d without pruning: want far less", l.listed.Len(), listedWithout)
			}
		})
	}
}
