package cli

import (
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
)

func TestWarmShellsFollowTheLastPods(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	// Nothing listens there: a warm shell's exec fails in the background, as for a pod that is gone.
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc := &kube.Client{Config: cfg, Clientset: clientset, Namespace: "ns"}
	client := &cluster{Client: kc, exec: func(ns, pod, container string) transport.Execer { return kc.NewContainerExec(ns, pod, container) }}

	first := startWarmShells(client, "web")
	if len(first.shells) != 0 {
		t.Fatalf("no run before, yet %d warm shells", len(first.shells))
	}
	first.remember([]string{warmKey("web-2", "app"), warmKey("web-1", "app")})
	first.closeRest()

	next := startWarmShells(client, "web")
	defer next.closeRest()
	if len(next.shells) != 2 {
		t.Fatalf("the next run started %d warm shells, want 2 (the pods the last one synced)", len(next.shells))
	}
	if next.take("web-1", "other") != nil {
		t.Error("a warm shell was handed out for another container of the pod")
	}
	taken := next.take("web-1", "app")
	if taken == nil || next.take("web-1", "app") != nil {
		t.Error("a warm shell must be handed out once")
	} else {
		taken.Close()
	}
	// Another Deployment, or the same name in another namespace, has hints of its own.
	if other := startWarmShells(client, "api"); len(other.shells) != 0 {
		t.Errorf("deployment/api got %d warm shells from deployment/web's hint", len(other.shells))
	}
	client.Namespace = "other"
	if other := startWarmShells(client, "web"); len(other.shells) != 0 {
		t.Errorf("namespace other got %d warm shells from namespace ns's hint", len(other.shells))
	}

	// The same pods again do not rewrite the hint.
	info, err := os.Stat(next.hint)
	if err != nil {
		t.Fatal(err)
	}
	next.remember([]string{warmKey("web-1", "app"), warmKey("web-2", "app")})
	if again, _ := os.Stat(next.hint); !again.ModTime().Equal(info.ModTime()) {
		t.Error("remembering the same pods rewrote the hint")
	}
}
