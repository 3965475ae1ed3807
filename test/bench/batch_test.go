//go:build e2e && bench

package bench

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/test/e2e"
)

// Quick reproductions of the shaped table's 50-file change (shapedManyFiles) on cloud, in under a minute
// each instead of the whole table's generated 100 MB tree. They log, they record no row:
//
//	KINDLING_BENCH_PROFILES=cloud go test -tags 'e2e bench' -count=1 -v -run 'TestBatch' ./test/bench/

// TestBatchSave times kindling's sync line for 50 files rewritten in a tree of the table's shape (20 files
// a directory, so that the 50 land in about 50 directories), watching with --debounce 100ms through
// cloud, beside the link's floor: 2 RTT + the bytes on the wire ÷ the upstream rate. The tree is filled
// straight through the API server first, so that only the saves cross the link.
func TestBatchSave(t *testing.T) {
	skipUnlessProfile(t, "cloud")
	l := startLink(t, profiles[1])
	tt := newTreeTarget(t, l.kubeconfig, 2000, 2000*10<<10)
	files := spreadFiles(t, tt.src, changedFiles)
	direct := tt
	direct.kubeconfig = e2e.Kubeconfig()
	const dest = "/data/batch"
	runOnce(t, direct.syncArgs(dest)...)
	k := startKindling(t, append(tt.syncArgs(dest), "--debounce", shapedDebounce.String())...)
	k.waitLine(t, 0, startedWatching, 5*time.Minute)
	chacha := rand.NewChaCha8([32]byte{50})
	var lines []time.Duration
	for i := range 5 {
		time.Sleep(time.Second)
		from := k.count()
		start := time.Now()
		var changed int64
		for _, f := range files {
			content := make([]byte, fileLen(t, f))
			chacha.Read(content)
			if err := os.WriteFile(f, content, 0o644); err != nil {
				t.Fatal(err)
			}
			changed += int64(len(content))
		}
		line := k.waitLine(t, from, syncLine, 2*time.Minute)
		r := parseSyncLine(t, line.text)
		w := l.traffic(start, line.at)
		lines = append(lines, r.elapsed)
		t.Logf("save %d: %d files, %s; sync line %s; wire %s; floor 2 RTT + wire ↑ = %s",
			i, len(files), size(changed), ms(r.elapsed), w, ms(2*l.rtt+l.transferTime(w.up)))
	}
	t.Logf("sync line: median %s of %d saves", ms(median(lines)), len(lines))
}

// TestBatchExec times 600 KB of stdin through cloud to a command that only reads it: on a
// transport.Session (as a save's apply goes) and on an exec of its own. The session's is the link's
// floor (1 RTT + the bytes ÷ the upstream rate): the way there is not what a save waits for.
func TestBatchExec(t *testing.T) {
	skipUnlessProfile(t, "cloud")
	l := startLink(t, profiles[1])
	tt := newTreeTarget(t, l.kubeconfig, 20, 100<<10)
	c, err := kube.Connect(l.kubeconfig, "", tt.ns)
	if err != nil {
		t.Fatal(err)
	}
	ex := c.NewContainerExec(tt.ns, tt.pod, "app")
	s := transport.NewSession(ex)
	defer s.Close()
	ctx := context.Background()
	input := make([]byte, 600<<10)
	rand.NewChaCha8([32]byte{1}).Read(input)
	if err := s.Exec(ctx, []string{"true"}, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		start := time.Now()
		if err := s.Exec(ctx, []string{"sh", "-c", "cat >/dev/null"}, bytes.NewReader(input), nil, nil); err != nil {
			t.Fatal(err)
		}
		t.Logf("session, 600 KB stdin: %s, wire %s (floor %s)", ms(time.Since(start)), l.traffic(start, time.Now()), ms(l.rtt+l.transferTime(int64(len(input)))))
		start = time.Now()
		// A reader of its own kind, which ContainerExec streams as it reads.
		if err := ex.Exec(ctx, []string{"sh", "-c", "cat >/dev/null"}, io.MultiReader(bytes.NewReader(input)), nil, io.Discard); err != nil {
			t.Fatal(err)
		}
		t.Logf("exec of its own, 600 KB stdin: %s, wire %s", ms(time.Since(start)), l.traffic(start, time.Now()))
	}
}
