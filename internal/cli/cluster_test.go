package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/kube"
)

// The first signal stops the session, the second says the restore is under way, the third quits at
// once, naming the command that undoes what is still changed.
func TestSignalsStopThenWarnThenQuitNamingTheRestore(t *testing.T) {
	g := &exitGuard{}
	restored := g.changing("shop", kube.Ref{Kind: kube.Deployment, Name: "web"})
	g.changing("shop", kube.Ref{Kind: kube.Deployment, Name: "api"})
	g.changing("shop", kube.Ref{Kind: kube.StatefulSet, Name: "db"})
	restored()
	signals := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncOut{}
	quit := make(chan int, 1)
	go onSignals(signals, cancel, g, out, func(code int) { quit <- code })

	signals <- struct{}{}
	<-ctx.Done()
	if out.String() != "" {
		t.Fatalf("the first signal printed %q", out)
	}
	signals <- struct{}{}
	signals <- struct{}{}
	if code := <-quit; code != 130 {
		t.Errorf("exit code %d, want 130", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "interrupt again to quit at once") ||
		!strings.Contains(lines[1], "run `kindling restore -d api -n shop` and `kindling restore -d statefulset/db -n shop`") || strings.Contains(lines[1], "web") {
		t.Errorf("output after three signals:\n%s", out)
	}
}
