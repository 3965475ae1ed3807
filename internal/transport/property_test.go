package transport

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

var seedFlag = flag.Uint64("seed", 0, "seed of TestRandomChangesConverge (0: a new one)")

// TestRandomChangesConverge applies a seeded random sequence of local changes, syncing after each burst,
// and checks after every sync that the container holds exactly the local tree. Half of the plans are
// made against a fresh manifest, half against the tree the last sync left (as the engine does in watch
// mode).
func TestRandomChangesConverge(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	const steps = 30
	for _, c := range withSessions(t, containers(t)) {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 0))
			src, dest := t.TempDir(), filepath.Join(t.TempDir(), "app")
			sh := newShell(t, c)
			known := plan.Tree{}
			for step := range steps {
				var ops []string
				for range 1 + rng.IntN(6) {
					ops = append(ops, mutate(t, rng, src))
				}
				local := scan(t, src)
				remote := known
				if step%2 == 0 {
					var err error
					if remote, err = sh.Manifest(ctx, dest); err != nil {
						t.Fatalf("seed %d step %d: %v", seed, step, err)
					}
				}
				if _, err := sh.Apply(ctx, dest, plan.Diff(local, remote), DirSource(src)); err != nil {
					t.Fatalf("seed %d step %d after %q: %v", seed, step, ops, err)
				}
				after, err := sh.Manifest(ctx, dest)
				if err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
				if d := plan.FirstDifference(local, after); d != "" {
					t.Fatalf("seed %d step %d after %q: local vs container: %s (rerun with -args -seed=%d)", seed, step, ops, d, seed)
				}
				known = after
			}
			if s := leftovers(t, dest); len(s) > 0 {
				t.Fatalf("seed %d: staging directories left behind: %v", seed, s)
			}
		})
	}
}

// mutate makes one random change under root and describes it.
func mutate(t *testing.T, rng *rand.Rand, root string) string {
	t.Helper()
	tree := scan(t, root)
	paths := tree.Paths()
	var dirs, files []string
	dirs = append(dirs, "")
	for _, p := range paths {
		switch tree[p].Kind {
		case plan.Dir:
			dirs = append(dirs, p)
		case plan.File:
			files = append(files, p)
		}
	}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	abs := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	newPath := func() string { // a path that does not exist yet, in an existing directory
		for {
			name := pick(funnyNames)
			if rng.IntN(2) == 0 {
				name = fmt.Sprintf("%s%d", name, rng.IntN(100))
			}
			p := strings.TrimPrefix(pick(dirs)+"/"+name, "/")
			if _, ok := tree[p]; !ok {
				return p
			}
		}
	}
	content := func() string {
		sizes := []int{0, 1, 100, 5000, 65536, 70001}
		b := make([]byte, sizes[rng.IntN(len(sizes))])
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	switch op := rng.IntN(10); {
	case op < 3 || len(paths) == 0:
		p := newPath()
		put(t, abs(p), node{kind: plan.File, content: content(), exec: rng.IntN(3) == 0})
		return "create " + p
	case op == 3 && len(files) > 0:
		p := pick(files)
		old, err := os.ReadFile(abs(p))
		must(err)
		c := []byte(content())
		if len(old) > 0 && rng.IntN(2) == 0 { // same size, different content
			c = append([]byte(nil), old...)
			c[rng.IntN(len(c))]++
		}
		must(os.WriteFile(abs(p), c, 0))
		return "modify " + p
	case op == 4 && len(files) > 0:
		p := pick(files)
		info, err := os.Stat(abs(p))
		must(err)
		must(os.Chmod(abs(p), info.Mode()^0o111))
		return "chmod " + p
	case op == 5:
		p := pick(paths)
		must(os.RemoveAll(abs(p)))
		return "delete " + p
	case op == 6:
		from, to := pick(paths), newPath()
		if strings.HasPrefix(to+"/", from+"/") {
			return "skip rename into itself"
		}
		must(os.Rename(abs(from), abs(to)))
		return "rename " + from + " to " + to
	case op == 7:
		p := newPath()
		for range rng.IntN(3) {
			p += "/" + pick(funnyNames)
		}
		put(t, abs(p), dir())
		if rng.IntN(2) == 0 {
			put(t, abs(p+"/f"), file(content()))
		}
		return "mkdir " + p
	case op == 8:
		p := newPath()
		targets := []string{"a", "../up", "/abs/path", "dangling with space", "new\nline", "-x", pick(paths)}
		put(t, abs(p), symlink(pick(targets)))
		return "symlink " + p
	default: // the same path changes kind
		p := pick(paths)
		must(os.RemoveAll(abs(p)))
		if tree[p].Kind == plan.Dir {
			put(t, abs(p), file(content()))
		} else {
			put(t, abs(p+"/inside"), file(content()))
		}
		return "change kind of " + p
	}
}
