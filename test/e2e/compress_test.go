//go:build e2e

package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCompressedInitialSync: with --compress on, an initial sync of source-like text goes compressed (gzip:
// the runtimes image has no zstd; the synced event's bytes, as sent, are a fraction of the files'), and the
// container holds the tree exactly.
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

// TestOneLineEditOfALargeFileGoesAsASplice: kindling watching two replicas; after the first sync of a
// 4 MB text file, each one-line edit sends a few kilobytes (the synced event's bytes), and both pods hold
// the file exactly (its sha256). Then the app rewrites the file in one pod behind kindling's back: the
// next edit cannot be spliced there, goes whole, and every pod still ends up exact.
func TestOneLineEditOfALargeFileGoesAsASplice(t *testing.T) {
	t.Parallel()
	ns := Namespace(t)
	deploy := fileServer(t, ns, 2)
	src := t.TempDir()
	var b strings.Builder
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, "%07d the quick brown fox jumps over the lazy dog\n", i)
	}
	text := b.String()
	WriteLocalFile(t, src, "big.txt", text, 0o644)
	cache := t.TempDir() // copies of what this kindling sent, and nothing else
	cmd := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--dest", "/app", "--debounce", "100ms", "-o", "json")
	cmd.Env = append(cmd.Env, "XDG_CACHE_HOME="+cache)
	k := startProc(t, cmd)
	// (Its output is stdout and stderr together: the JSON events are the lines that are objects.)
	synced := func(n int) []event {
		t.Helper()
		var evs []event
		Eventually(t, DefaultTimeout, 100*time.Millisecond, func() error {
			evs = nil
			for _, line := range strings.Split(k.Output(), "\n") {
				var e event
				if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &e) == nil && e.Event == "synced" {
					evs = append(evs, e)
				}
			}
			if len(evs) < n {
				return fmt.Errorf("%d synced events, want %d:\n%s", len(evs), n, k.Output())
			}
			return nil
		})
		return evs
	}
	holdsText := func() {
		t.Helper()
		want := fmt.Sprintf("%x", sha256.Sum256([]byte(text)))
		Eventually(t, DefaultTimeout, 200*time.Millisecond, func() error {
			for _, pod := range ReadyPods(t, ns, deploy) {
				out, _, err := Exec(t, ns, pod, "app", []string{"sha256sum", "/app/big.txt"}, nil)
				if err != nil || !strings.HasPrefix(out, want) {
					return fmt.Errorf("pod %s: /app/big.txt is %q (%v), want sha256 %s", pod, out, err, want)
				}
			}
			return nil
		})
	}
	synced(1)
	holdsText()
	edit := func(line int) {
		t.Helper()
		prefix := fmt.Sprintf("%07d the quick", line)
		text = strings.Replace(text, prefix, prefix+" (edited)", 1)
		WriteLocalFile(t, src, "big.txt", text, 0o644)
	}
	for i, line := range []int{30_000, 200, 60_000} {
		edit(line)
		ev := synced(2 + i)[1+i]
		if ev.Bytes > 16<<10 {
			t.Errorf("edit %d of a %d-byte file sent %d bytes, want a splice of under 16 KiB", i, len(text), ev.Bytes)
		}
		t.Logf("edit %d: %d bytes sent for a %d-byte file", i, ev.Bytes, len(text))
		holdsText()
	}

	pod := ReadyPods(t, ns, deploy)[0]
	MustExec(t, ns, pod, "app", "sh", "-c", "echo rewritten by the app > /app/big.txt")
	edit(10_000)
	ev := synced(5)[4]
	if ev.Bytes < int64(len(text)) {
		t.Errorf("the edit after the app rewrote the file in %s sent %d bytes: it cannot be spliced there, want it whole", pod, ev.Bytes)
	}
	holdsText()
}
