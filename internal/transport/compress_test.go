package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

// A compressing Shell compresses a large transfer with zstd where the container has zstd, else with gzip
// where it has gzip (GNU, BusyBox, through a session), and sends it as it is where it has neither; either
// way the container ends up with the tree. A save's small transfer is never compressed.
func TestCompressedApply(t *testing.T) {
	source := func(t *testing.T, files, size int) string {
		src := t.TempDir()
		tree := map[string]node{}
		line := strings.Repeat("def handler(request): return render(request, 'page.html')\n", 1+size/58)
		for i := range files {
			tree[fmt.Sprintf("pkg%d/mod%d.py", i%7, i)] = file(line[:size])
		}
		build(t, src, tree)
		return src
	}
	for _, tc := range []struct {
		c     container
		codec string // what the large transfer goes as
	}{
		{container{name: "gnu"}, "zstd"}, // this machine's PATH, which has zstd
		{container{name: "gnu-session", session: true}, "zstd"},
		{container{name: "gnu-no-zstd", path: gnuPath(t)}, "gzip"},
		{container{name: "busybox", path: busyboxPath(t, nil)}, "gzip"},
		{container{name: "busybox-zstd", path: withZstd(t, busyboxPath(t, nil))}, "zstd"},
		{container{name: "busybox-zstd-session", path: withZstd(t, busyboxPath(t, nil)), session: true}, "zstd"},
		{container{name: "busybox-zstd-no-gzip", path: withZstd(t, busyboxPath(t, []string{"gzip"}))}, "zstd"},
		{container{name: "busybox-no-gzip", path: busyboxPath(t, []string{"gzip"})}, "tar"},
	} {
		t.Run(tc.c.name, func(t *testing.T) {
			sh, codecs := codecShell(t, tc.c, Compress(true))
			src := source(t, 300, 8<<10) // 2.4 MB of source-like text
			_, stats := syncTree(t, sh, src, t.TempDir())
			raw := int64(300 * 8 << 10)
			if got, want := stats.Bytes < raw/3, tc.codec != "tar"; got != want {
				t.Errorf("%d bytes sent for %d of files: compressed %v, want %v", stats.Bytes, raw, got, want)
			}
			small := source(t, 3, 1<<10)
			if _, stats := syncTree(t, sh, small, t.TempDir()); stats.Bytes < 3<<10 {
				t.Errorf("a save's %d bytes were compressed to %d: below compressFrom a stream goes as it is", 3<<10, stats.Bytes)
			}
			if got, want := codecs.seen(), []string{tc.codec, "tar"}; !slices.Equal(got, want) {
				t.Errorf("the applies went as %q, want %q", got, want)
			}
		})
	}
}

// A compressed stream that ends early, cut on the way or because a local file changed while it was
// being sent, commits nothing: the decompressor fails, the tar ends before the stream's last entry.
func TestCompressedStreamCutShort(t *testing.T) {
	for _, tc := range []struct {
		c     container
		codec string
	}{
		{container{name: "gnu"}, "zstd"},
		{container{name: "busybox-zstd", path: withZstd(t, busyboxPath(t, nil))}, "zstd"},
		{container{name: "busybox", path: busyboxPath(t, nil)}, "gzip"},
	} {
		t.Run(tc.c.name, func(t *testing.T) {
			// Text that compresses about as much as source code, so that a cut falls inside the stream.
			rng := rand.New(rand.NewSource(1))
			src := t.TempDir()
			tree := map[string]node{}
			for i := range 300 {
				var b strings.Builder
				for b.Len() < 8<<10 {
					fmt.Fprintf(&b, "x%d = handler(%q, %d)\n", rng.Intn(1000), fmt.Sprint(rng.Int63()), rng.Intn(1<<20))
				}
				tree[fmt.Sprintf("pkg%d/mod%d.py", i%7, i)] = file(b.String())
			}
			build(t, src, tree)
			local := scan(t, src)
			p := plan.Diff(local, plan.Tree{})
			p.Deletes = []string{"old"}

			for _, cut := range []struct {
				name  string
				bytes int64 // where the exec's stdin ends
				plan  func(plan.Plan) plan.Plan
			}{
				{"cut on the way", 256 << 10, func(p plan.Plan) plan.Plan { return p }},
				{"local file changed", 0, func(p plan.Plan) plan.Plan {
					// A file half-way through the stream is no longer the planned size.
					p.Writes = append([]plan.Item(nil), p.Writes...)
					p.Writes[len(p.Writes)/2].Size++
					return p
				}},
			} {
				t.Run(cut.name, func(t *testing.T) {
					dest := t.TempDir()
					build(t, dest, map[string]node{"old": file("old")})
					sh, codecs := codecShell(t, tc.c, Compress(true))
					codecs.cut = cut.bytes
					_, err := sh.Apply(context.Background(), dest, cut.plan(p), DirSource(src))
					if err == nil {
						t.Fatal("Apply succeeded on a stream that ended early")
					}
					if got := codecs.seen(); !slices.Equal(got, []string{tc.codec}) {
						t.Errorf("the apply went as %q, want %q", got, tc.codec)
					}
					entries, _ := os.ReadDir(dest)
					if len(entries) != 1 || entries[0].Name() != "old" {
						var names []string
						for _, e := range entries {
							names = append(names, e.Name())
						}
						t.Errorf("after a stream that ended early (%v), dest holds %q, want only old, as it was", err, names)
					}
				})
			}
		})
	}
}

// withZstd adds this machine's zstd to a container's PATH directory (BusyBox has no zstd applet).
func withZstd(t testing.TB, dir string) string {
	t.Helper()
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		t.Fatal("zstd is not installed; the transport tests need it to check zstd-compressed transfers: apt-get install -y zstd")
	}
	if err := os.Symlink(zstd, filepath.Join(dir, "zstd")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// codecShell is newShell with the Execer under the Shell noting how each apply's stream went.
func codecShell(t *testing.T, c container, opts ...Option) (*Shell, *codecExecer) {
	var e Execer = &LocalExecer{Name: "pod/test/" + c.name, Path: c.path}
	if c.session {
		session := NewSession(e)
		t.Cleanup(func() { session.Close() })
		e = session
	}
	ce := &codecExecer{Execer: e}
	return NewShell(ce, append([]Option{Cache(t.TempDir())}, opts...)...), ce
}

// codecExecer notes how each apply's stream went: "zstd", "gzip" or "tar", told by its script and by its
// first bytes, which must agree. With cut, an apply's stdin ends after that many bytes.
type codecExecer struct {
	Execer
	cut int64

	mu     sync.Mutex
	codecs []string
}

// Tools lets a Session's probe through.
func (c *codecExecer) Tools(ctx context.Context) (map[string]bool, bool) {
	if s, ok := c.Execer.(interface {
		Tools(context.Context) (map[string]bool, bool)
	}); ok {
		return s.Tools(ctx)
	}
	return nil, false
}

func (c *codecExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if OpOf(argv) != OpApply || stdin == nil {
		return c.Execer.Exec(ctx, argv, stdin, stdout, stderr)
	}
	if c.cut > 0 {
		stdin = io.LimitReader(stdin, c.cut)
	}
	head := &headWriter{}
	err := c.Execer.Exec(ctx, argv, io.TeeReader(stdin, head), stdout, stderr)
	byScript := map[string]string{zstdApplyScript: "zstd", gzipApplyScript: "gzip", tarApplyScript: "tar"}[argv[2]]
	byMagic := "tar"
	switch {
	case bytes.HasPrefix(head.b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		byMagic = "zstd"
	case bytes.HasPrefix(head.b, []byte{0x1f, 0x8b}):
		byMagic = "gzip"
	}
	if byScript != byMagic {
		byScript += "/" + byMagic + "?"
	}
	c.mu.Lock()
	c.codecs = append(c.codecs, byScript)
	c.mu.Unlock()
	return err
}

func (c *codecExecer) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.codecs...)
}

// headWriter keeps the first bytes written to it.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if n := 4 - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}
