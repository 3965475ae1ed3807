package transport

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

// afterListing is an Execer that calls after each time a listing command of the manifest returned: an
// app changing the tree between the listing and the description of its files.
type afterListing struct {
	Execer
	before, after func()
}

func (a *afterListing) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	listing := OpOf(argv) == OpManifest
	if listing && a.before != nil {
		a.before()
	}
	err := a.Execer.Exec(ctx, argv, stdin, stdout, stderr)
	if listing && a.after != nil {
		a.after()
	}
	return err
}

// linkRoot makes a fake root: root/outside holds files whose content kindling must never see, under the
// names dest holds (a/f, a/b/g, h), and dest holds real files there.
func linkRoot(t *testing.T) (root, dest string) {
	root = t.TempDir()
	dest = filepath.Join(root, "dest")
	build(t, filepath.Join(root, "outside"), map[string]node{
		"f": file("outside f"), "b/g": file("outside g"), "secret": file("outside secret"),
	})
	build(t, dest, map[string]node{"a/f": file("inside f"), "a/b/g": file("inside g"), "h": file("inside h"), "keep": file("keep")})
	return root, dest
}

// swapForLinks turns, as an app might, dest/a into a symlink to root/outside and dest/h into a symlink
// to root/outside/secret, or only those named.
func swapForLinks(t *testing.T, root, dest string, only ...string) {
	t.Helper()
	targets := map[string]string{"a": filepath.Join(root, "outside"), "h": filepath.Join(root, "outside", "secret")}
	for p, target := range targets {
		if len(only) > 0 && !slices.Contains(only, p) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dest, p)); err != nil {
			t.Fatal(err)
		}
		put(t, filepath.Join(dest, p), symlink(target))
	}
}

// unswap makes dest/a and dest/h real again.
func unswap(t *testing.T, dest string) {
	t.Helper()
	for _, p := range []string{"a", "h"} {
		if err := os.RemoveAll(filepath.Join(dest, p)); err != nil {
			t.Fatal(err)
		}
	}
	put(t, filepath.Join(dest, "a/f"), file("inside f"))
	put(t, filepath.Join(dest, "a/b/g"), file("inside g"))
	put(t, filepath.Join(dest, "h"), file("inside h"))
}

// TestManifestNeverReadsThroughALinkMadeAfterTheListing: the app turns a listed directory and a listed
// file into symlinks out of dest after the listing. The manifest never reports the hash of what lies
// outside: it reads the tree again and reports the symlinks. When the tree changes that way at every
// listing, the manifest fails naming the path, for the engine to read it again later. Before, it
// reported the hashes of root/outside/f, b/g and secret as those of a/f, a/b/g and h (GNU find; with
// BusyBox's listing h's came out as a symlink's only by the order of the files).
func TestManifestNeverReadsThroughALinkMadeAfterTheListing(t *testing.T) {
	outside := map[string]bool{sha("outside f"): true, sha("outside g"): true, sha("outside secret"): true}
	for _, c := range withSessions(t, containers(t)) {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var e Execer = &LocalExecer{Name: "pod/test/" + c.name, Path: c.path}
			if c.session {
				s := NewSession(e)
				t.Cleanup(func() { s.Close() })
				e = s
			}
			root, dest := linkRoot(t)
			swapped := false
			spy := &afterListing{Execer: e, after: func() {
				if !swapped {
					swapped = true
					swapForLinks(t, root, dest)
				}
			}}
			tree, err := NewShell(spy, Cache(t.TempDir())).Manifest(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			for p, e := range tree {
				if outside[e.Hash] {
					t.Errorf("%s: the hash of a file outside dest", p)
				}
			}
			want := plan.Tree{
				"a":    {Kind: plan.Symlink, Hash: filepath.Join(root, "outside")},
				"h":    {Kind: plan.Symlink, Hash: filepath.Join(root, "outside", "secret")},
				"keep": {Kind: plan.File, Size: 4, Hash: sha("keep")},
			}
			if d := plan.FirstDifference(want, tree); d != "" {
				t.Errorf("manifest: %s", d)
			}

			// Only a file turned into a symlink: sha256sum would follow it.
			root, dest = linkRoot(t)
			swapped = false
			spy = &afterListing{Execer: e, after: func() {
				if !swapped {
					swapped = true
					swapForLinks(t, root, dest, "h")
				}
			}}
			tree, err = NewShell(spy, Cache(t.TempDir())).Manifest(ctx, dest)
			if err != nil {
				t.Fatal(err)
			}
			if h := tree["h"]; h.Kind != plan.Symlink || outside[h.Hash] {
				t.Errorf("h, a file turned into a symlink after the listing: %+v", h)
			}

			// At every listing the tree is real, and the links come right after it.
			root, dest = linkRoot(t)
			spy = &afterListing{Execer: e, before: func() { unswap(t, dest) }, after: func() { swapForLinks(t, root, dest) }}
			tree, err = NewShell(spy, Cache(t.TempDir())).Manifest(ctx, dest)
			var linked *linkedError
			if !errors.As(err, &linked) || !strings.Contains(err.Error(), "is a symbolic link made after the listing") {
				t.Fatalf("a tree that changes at every listing: %v, %v; want a linkedError", tree, err)
			}
		})
	}
}
