package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kindling-dev/kindling/internal/kube"
)

func deploymentRunning(name string, containers ...corev1.Container) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}}}
}

func TestInitWritesTheDeploymentsThatRunTheLocalLanguage(t *testing.T) {
	src := t.TempDir()
	must(t, os.WriteFile(filepath.Join(src, "requirements.txt"), []byte("flask\n"), 0o644))
	client := &cluster{Client: &kube.Client{Namespace: "shop", Clientset: fake.NewClientset(
		deploymentRunning("orders", corev1.Container{Name: "app", Command: []string{"gunicorn", "app:app"}, WorkingDir: "/srv"}),
		deploymentRunning("web", corev1.Container{Name: "web", Command: []string{"nginx", "-g", "daemon off;"}}),
		deploymentRunning("worker", corev1.Container{Name: "app", Command: []string{"python3", "worker.py"}}, corev1.Container{Name: "sidecar", Command: []string{"envoy"}}),
	)}}
	text, err := starterProject(context.Background(), client, src)
	must(t, err)
	p, err := parseProject("kindling.yaml", []byte(text))
	if err != nil {
		t.Fatalf("the starter file does not load: %v\n%s", err, text)
	}
	if names := strings.Join(p.entryNames(), ","); names != "orders,worker" {
		t.Errorf("entries %s, want orders,worker:\n%s", names, text)
	}
	for _, want := range []string{"dest: /srv", "container: app", "namespace: shop", "# Also in shop (another language, or not recognised): web"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}

	// Nothing matches: a commented example that loads as it is.
	text, err = starterProject(context.Background(), &cluster{Client: &kube.Client{Namespace: "shop", Clientset: fake.NewClientset()}}, t.TempDir())
	must(t, err)
	if _, err := parseProject("kindling.yaml", []byte(text)); err != nil || !strings.Contains(text, "No entry was written: the language of") {
		t.Errorf("example: %v\n%s", err, text)
	}
}
