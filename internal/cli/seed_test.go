package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
)

// seedFor gives the user a copy of --dest only when the user cannot write it, and never over a volume.
func TestSeedFor(t *testing.T) {
	workload := func(mounts ...corev1.VolumeMount) *kube.Workload {
		return kube.NewWorkload(&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", VolumeMounts: mounts}}}}}})
	}
	answering := func(verdict string) transport.Execer {
		return &transport.RecordingExecer{Name: "pod/p/app", Respond: func(transport.Call) (string, error) { return verdict + "\n", nil }}
	}
	data := corev1.VolumeMount{Name: "data", MountPath: "/app/"}
	for _, tc := range []struct {
		name      string
		e         transport.Execer
		appUser   string
		w         *kube.Workload
		seed, err string
	}{
		{"writable", answering("writable 1000"), "", workload(), "", ""},
		{"unwritable", answering("unwritable 1000"), "", workload(), "/app", ""},
		{"unwritable volume", answering("unwritable 1000"), "", workload(data), "", `user 1000 cannot write /app, on the volume "data" (mounted at /app/): give the user write access to it (fsGroup in the pod's securityContext), or pick another --dest`},
		{"no shell, root", nil, "0", workload(), "", ""},
		{"no shell, unknown user", nil, "", workload(), "", ""},
		{"no shell, non-root", nil, "65532", workload(), "/app", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed, _, err := seedFor(context.Background(), io.Discard, tc.e, tc.appUser, tc.w, "app", "/app")
			if seed != tc.seed || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
				t.Fatalf("seed %q, err %v; want %q, %q", seed, err, tc.seed, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("the error is not one line: %q", err)
			}
		})
	}
}

// --compress auto compresses large transfers to a cluster that is not on this machine.
func TestCompressing(t *testing.T) {
	for _, tc := range []struct {
		mode, server string
		want         bool
	}{
		{"auto", "https://127.0.0.1:6443", false},
		{"auto", "https://localhost:6443", false},
		{"auto", "https://[::1]:6443", false},
		{"auto", "https://k8s.example.com", true},
		{"auto", "https://203.0.113.7:443", true},
		{"on", "https://127.0.0.1:6443", true},
		{"off", "https://k8s.example.com", false},
	} {
		if got := compressing(tc.mode, tc.server); got != tc.want {
			t.Errorf("compressing(%q, %q) = %v, want %v", tc.mode, tc.server, got, tc.want)
		}
	}
}
