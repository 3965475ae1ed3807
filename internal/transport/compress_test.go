package transport

import (
	"fmt"
	"strings"
	"testing"
)

// A compressing Shell gzips a large transfer where the container has gzip (GNU, BusyBox, through a
// session), and sends it as it is where gzip is missing; either way the container ends up with the tree.
// A save's small transfer is never compressed.
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
		c          container
		compressed bool
	}{
		{container{name: "gnu"}, true},
		{container{name: "busybox", path: busyboxPath(t, nil)}, true},
		{container{name: "gnu-session", session: true}, true},
		{container{name: "busybox-no-gzip", path: busyboxPath(t, []string{"gzip"})}, false},
	} {
		t.Run(tc.c.name, func(t *testing.T) {
			sh := newShell(t, tc.c, Compress(true))
			src := source(t, 300, 8<<10) // 2.4 MB of source-like text
			_, stats := syncTree(t, sh, src, t.TempDir())
			raw := int64(300 * 8 << 10)
			if got := stats.Bytes < raw/3; got != tc.compressed {
				t.Errorf("%d bytes sent for %d of files: compressed %v, want %v", stats.Bytes, raw, got, tc.compressed)
			}
			small := source(t, 3, 1<<10)
			if _, stats := syncTree(t, sh, small, t.TempDir()); stats.Bytes < 3<<10 {
				t.Errorf("a save's %d bytes were compressed to %d: below compressFrom a stream goes as it is", 3<<10, stats.Bytes)
			}
		})
	}
}
