//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestCompressedInitialSync: with --compress on, an initial sync of source-like text goes gzip'd (the
// synced event's bytes, as sent, are a fraction of the files'), and the container holds the tree exactly.
func TestCompressedInitialSync(t *testing.T) {
	t.Parallel()
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment("compress", RuntimesImage, "/", 0, "sleep", "infinity"))
	src := t.TempDir()
	line := "def handler(request):\n    return render(request, 'templates/page.html', {'items': items})\n"
	raw := 0
	for i := range 200 {
		content := strings.Repeat(fmt.Sprintf("# module %d\n%s", i, line), 150)
		WriteLocalFile(t, src, fmt.Sprintf("pkg%d/mod%d.py", i%9, i), content, 0o644)
		raw += len(content)
	}
	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/app", "--once", "--compress", "on", "-o", "json").Output()
	if err != nil {
		t.Fatalf("kindling sync --once --compress on: %v\n%s", err, out)
	}
	sent := -1
	for sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan(); {
		var ev struct {
			Event string `json:"event"`
			Bytes int    `json:"bytes"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "synced" {
			sent = ev.Bytes
		}
	}
	if sent <= 0 || sent > raw/4 {
		t.Fatalf("%d bytes sent for %d bytes of source: want it gzip'd to under a quarter\n%s", sent, raw, out)
	}
	t.Logf("initial sync of %d bytes of source sent %d bytes (%.1f×)", raw, sent, float64(raw)/float64(sent))
	waitConverged(t, ns, deploy, src, "/app", 1)
}
