package restart

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/kube"
)

// tricky holds what must survive a wrap untouched: spaces, quotes, Kubernetes $(VAR) references and
// $$ escapes, shell syntax that no shell may see.
var tricky = []string{"two words", `it's "quoted"`, "$(PORT)", "$$(NOT_EXPANDED)", "a;b|c", "", "--"}

func template(containers ...corev1.Container) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWrapRunsTheExactArgvUnderTheSupervisor(t *testing.T) {
	head := []string{SupervisorPath, "run", "--hold", "30", "--state-dir", StateDir, "--"}
	for _, tc := range []struct {
		name      string
		container corev1.Container
		procArgv  []string
		want      []string // the app's argv after the head
	}{
		{
			name:      "command and args",
			container: corev1.Container{Name: "app", Command: []string{"python3", "-c", "print('hi there')"}, Args: tricky},
			procArgv:  []string{"ignored", "when", "command", "is", "set"},
			want:      append([]string{"python3", "-c", "print('hi there')"}, tricky...),
		},
		{
			name:      "command only",
			container: corev1.Container{Name: "app", Command: tricky},
			want:      tricky,
		},
		{
			name:      "image entrypoint: the process argv, with $ escaped",
			container: corev1.Container{Name: "app", Args: []string{"$(PORT)"}},
			procArgv:  []string{"ruby", "server.rb", "8080", "$(literal)", "$$", "cost $5"},
			want:      []string{"ruby", "server.rb", "8080", "$$(literal)", "$$$$", "cost $$5"},
		},
		{
			name:      "a pod still running the supervisor",
			container: corev1.Container{Name: "app"},
			procArgv:  []string{"/bin/sh", SupervisorPath, "run", "--hold", "0", "--state-dir", StateDir, "--", "ruby", "app.rb"},
			want:      []string{"ruby", "app.rb"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sidecar := corev1.Container{Name: "sidecar", Command: []string{"envoy"}}
			tpl := template(sidecar, tc.container)
			if err := Wrap(tpl, WrapOptions{Container: "app", ProcArgv: tc.procArgv, Hold: 30 * time.Second}); err != nil {
				t.Fatal(err)
			}
			c := tpl.Spec.Containers[1]
			if want := append(slices.Clone(head), tc.want...); !slices.Equal(c.Command, want) || c.Args != nil {
				t.Fatalf("command %q args %q, want command %q and no args", c.Command, c.Args, want)
			}
			if toJSON(t, tpl.Spec.Containers[0]) != toJSON(t, sidecar) {
				t.Fatalf("the other container changed: %+v", tpl.Spec.Containers[0])
			}
			if tpl.Annotations[AnnotationSupervisor] != SupervisorScript() {
				t.Fatal("the script annotation is missing")
			}
			mode := int32(0o755)
			wantVolumes := []corev1.Volume{
				{Name: "kindling-supervisor", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
					Items: []corev1.DownwardAPIVolumeFile{{
						Path:     "kindling-supervisor",
						FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['kindling.dev/supervisor']"},
						Mode:     &mode,
					}},
				}}},
				{Name: "kindling-state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			}
			if got, want := toJSON(t, tpl.Spec.Volumes), toJSON(t, wantVolumes); got != want {
				t.Fatalf("volumes\n got %s\nwant %s", got, want)
			}
			wantMounts := []corev1.VolumeMount{
				{Name: "kindling-supervisor", MountPath: "/.kindling/bin", ReadOnly: true},
				{Name: "kindling-state", MountPath: "/.kindling/state"},
			}
			if got, want := toJSON(t, c.VolumeMounts), toJSON(t, wantMounts); got != want {
				t.Fatalf("mounts\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestWrapAddsTheSpareOfNodeAndPython(t *testing.T) {
	for _, tc := range []struct {
		argv         []string
		script, flag string
	}{
		{[]string{"node", "--no-warnings", "server.js"}, "spare.cjs", "2"},
		{[]string{"python3", "-m", "app"}, "spare.py", "1"},
	} {
		tpl := template(corev1.Container{Name: "app", Command: tc.argv})
		original := tpl.DeepCopy()
		if err := Wrap(tpl, WrapOptions{Container: "app"}); err != nil {
			t.Fatal(err)
		}
		c := tpl.Spec.Containers[0]
		head := []string{SupervisorPath, "run", "--hold", "0", "--state-dir", StateDir,
			"--spare", "/.kindling/bin/" + tc.script, "--spare-at", tc.flag, "--"}
		if want := append(head, tc.argv...); !slices.Equal(c.Command, want) {
			t.Errorf("%q: command %q, want %q", tc.argv, c.Command, want)
		}
		if got := tpl.Annotations[AnnotationSpare]; got == "" || got != spareScripts[tc.script] {
			t.Errorf("%q: the spare annotation does not hold %s", tc.argv, tc.script)
		}
		items := tpl.Spec.Volumes[0].DownwardAPI.Items
		if len(items) != 2 || items[1].Path != tc.script || items[1].FieldRef.FieldPath != "metadata.annotations['kindling.dev/spare']" {
			t.Errorf("%q: volume items %+v, want the supervisor and %s", tc.argv, items, tc.script)
		}
		Unwrap(tpl, "app", original)
		if got, want := toJSON(t, tpl), toJSON(t, original); got != want {
			t.Errorf("%q: unwrapped\n got %s\nwant %s", tc.argv, got, want)
		}
	}
}

func TestWrapTwiceIsWrapOnce(t *testing.T) {
	tpl := template(corev1.Container{Name: "app", Command: []string{"node"}, Args: tricky})
	if err := Wrap(tpl, WrapOptions{Container: "app", Hold: time.Minute}); err != nil {
		t.Fatal(err)
	}
	once := toJSON(t, tpl)
	if err := Wrap(tpl, WrapOptions{Container: "app", ProcArgv: []string{"/bin/sh", SupervisorPath, "run"}, Hold: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if twice := toJSON(t, tpl); twice != once {
		t.Fatalf("a second wrap changed the template:\n once %s\ntwice %s", once, twice)
	}
	if err := Wrap(tpl, WrapOptions{Container: "app"}); err != nil {
		t.Fatal(err)
	}
	if got, want := tpl.Spec.Containers[0].Command[:4], []string{SupervisorPath, "run", "--hold", "0"}; !slices.Equal(got, want) {
		t.Fatalf("rewrap with a new hold: command starts %q, want %q", got, want)
	}
}

func TestWrapErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tpl      *corev1.PodTemplateSpec
		procArgv []string
		want     string
	}{
		{"unknown container", template(corev1.Container{Name: "web"}, corev1.Container{Name: "db"}), nil, `no container "app" in the pod template; pass --container with one of: web, db`},
		{"entrypoint without a process argv", template(corev1.Container{Name: "app"}), nil, "/proc/1/cmdline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := toJSON(t, tc.tpl)
			err := Wrap(tc.tpl, WrapOptions{Container: "app", ProcArgv: tc.procArgv})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if toJSON(t, tc.tpl) != before {
				t.Fatal("a failed wrap changed the template")
			}
		})
	}
}

// templates are shapes a wrap must undo exactly: with and without annotations, volumes, mounts, a
// command, args, other containers.
func templates() map[string]*corev1.PodTemplateSpec {
	withEverything := template(
		corev1.Container{Name: "init-like", Image: "busybox", Command: []string{"sleep", "inf"}},
		corev1.Container{Name: "app", Image: "python:3", Command: []string{"python3"}, Args: tricky,
			Env:          []corev1.EnvVar{{Name: "PORT", Value: "8080"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			Ports:        []corev1.ContainerPort{{ContainerPort: 8080}}},
	)
	withEverything.Annotations = map[string]string{"prometheus.io/scrape": "true"}
	withEverything.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	return map[string]*corev1.PodTemplateSpec{
		"bare entrypoint": template(corev1.Container{Name: "app", Image: "node:22"}),
		"args only":       template(corev1.Container{Name: "app", Image: "node:22", Args: tricky}),
		"command only":    template(corev1.Container{Name: "app", Command: tricky}),
		"everything":      withEverything,
	}
}

func TestUnwrapRestoresTheTemplateExactly(t *testing.T) {
	for name, original := range templates() {
		t.Run(name, func(t *testing.T) {
			tpl := original.DeepCopy()
			if err := Wrap(tpl, WrapOptions{Container: "app", ProcArgv: []string{"node", "server.js"}, Hold: time.Minute}); err != nil {
				t.Fatal(err)
			}
			Unwrap(tpl, "app", original)
			if got, want := toJSON(t, tpl), toJSON(t, original); got != want {
				t.Fatalf("after wrap and unwrap\n got %s\nwant %s", got, want)
			}
		})
	}
}

const ns, name = "dev", "web"

var web = kube.Ref{Kind: kube.Deployment, Name: name}

func deployment(tpl *corev1.PodTemplateSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{"deployment.kubernetes.io/revision": "3"}},
		Spec:       appsv1.DeploymentSpec{Template: *tpl},
	}
}

func getDeployment(t *testing.T, client *fake.Clientset) *appsv1.Deployment {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// userView is what a restore must give back: the Deployment's annotations and spec (the server keeps
// its own bookkeeping, such as managedFields, besides them).
func userView(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	return toJSON(t, map[string]any{"annotations": d.Annotations, "spec": d.Spec})
}

func updates(client *fake.Clientset) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" {
			n++
		}
	}
	return n
}

func TestWrapAndRestoreDeployment(t *testing.T) {
	ctx := context.Background()
	for tplName, original := range templates() {
		t.Run(tplName, func(t *testing.T) {
			before := deployment(original)
			client := fake.NewClientset(before.DeepCopy())
			opts := WrapOptions{Container: "app", ProcArgv: []string{"node", "server.js"}, Hold: time.Minute, Session: "laptop/123"}
			wrapped, err := WrapWorkload(ctx, client, ns, web, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := supervisedArgv(wrapped.Template().Spec.Containers[len(original.Spec.Containers)-1].Command); !ok {
				t.Fatalf("the container is not wrapped: %+v", wrapped.Template().Spec.Containers)
			}
			if session, ok := WrappedSession(&getDeployment(t, client).ObjectMeta); !ok || session != "laptop/123" {
				t.Fatalf("WrappedSession = %q, %v", session, ok)
			}

			// A second session (or a second wrap) reuses the wrap: the template does not change.
			n := updates(client)
			opts.Session = "laptop/456"
			again, err := WrapWorkload(ctx, client, ns, web, opts)
			if err != nil {
				t.Fatal(err)
			}
			if toJSON(t, again.Template()) != toJSON(t, wrapped.Template()) || updates(client) != n+1 {
				t.Fatal("a second wrap changed the template")
			}
			if _, err := WrapWorkload(ctx, client, ns, web, opts); err != nil || updates(client) != n+1 {
				t.Fatalf("an unchanged wrap updated the Deployment (err %v)", err)
			}

			// A new run repairs it from the annotations alone.
			restored, err := RestoreWorkload(ctx, client, ns, web)
			if err != nil || !restored {
				t.Fatalf("RestoreDeployment = %v, %v", restored, err)
			}
			if got, want := userView(t, getDeployment(t, client)), userView(t, before); got != want {
				t.Fatalf("restored Deployment\n got %s\nwant %s", got, want)
			}
			n = updates(client)
			if restored, err := RestoreWorkload(ctx, client, ns, web); err != nil || restored || updates(client) != n {
				t.Fatalf("a second restore: %v, %v, %d updates", restored, err, updates(client)-n)
			}
		})
	}
}

func TestWrapDeploymentSwitchesContainers(t *testing.T) {
	ctx := context.Background()
	original := template(corev1.Container{Name: "api", Command: []string{"node", "api.js"}}, corev1.Container{Name: "worker", Command: []string{"node", "worker.js"}})
	before := deployment(original)
	client := fake.NewClientset(before.DeepCopy())
	for _, container := range []string{"api", "worker"} {
		if _, err := WrapWorkload(ctx, client, ns, web, WrapOptions{Container: container}); err != nil {
			t.Fatal(err)
		}
	}
	cs := getDeployment(t, client).Spec.Template.Spec.Containers
	if _, ok := supervisedArgv(cs[0].Command); ok || cs[0].VolumeMounts != nil {
		t.Fatalf("api is still wrapped: %+v", cs[0])
	}
	if argv, ok := supervisedArgv(cs[1].Command); !ok || !slices.Equal(argv, []string{"node", "worker.js"}) {
		t.Fatalf("worker command %q", cs[1].Command)
	}
	if _, err := RestoreWorkload(ctx, client, ns, web); err != nil {
		t.Fatal(err)
	}
	if got, want := userView(t, getDeployment(t, client)), userView(t, before); got != want {
		t.Fatalf("restored\n got %s\nwant %s", got, want)
	}
}

func TestRestoreKeepsChangesMadeWhileWrapped(t *testing.T) {
	ctx := context.Background()
	original := templates()["everything"]
	client := fake.NewClientset(deployment(original))
	if _, err := WrapWorkload(ctx, client, ns, web, WrapOptions{Container: "app"}); err != nil {
		t.Fatal(err)
	}
	d := getDeployment(t, client)
	app := &d.Spec.Template.Spec.Containers[1]
	app.Image = "python:3.13"
	app.Env = append(app.Env, corev1.EnvVar{Name: "DEBUG", Value: "1"})
	if _, err := client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := RestoreWorkload(ctx, client, ns, web); err != nil {
		t.Fatal(err)
	}
	want := original.DeepCopy()
	want.Spec.Containers[1].Image = "python:3.13"
	want.Spec.Containers[1].Env = append(want.Spec.Containers[1].Env, corev1.EnvVar{Name: "DEBUG", Value: "1"})
	if got := toJSON(t, getDeployment(t, client).Spec.Template); got != toJSON(t, want) {
		t.Fatalf("restored template\n got %s\nwant %s", got, toJSON(t, want))
	}
}

func TestWrapDeploymentRetriesOnConflict(t *testing.T) {
	client := fake.NewClientset(deployment(template(corev1.Container{Name: "app", Command: []string{"ruby", "app.rb"}})))
	conflicts := 2
	client.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, name, nil)
	})
	if _, err := WrapWorkload(context.Background(), client, ns, web, WrapOptions{Container: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := supervisedArgv(getDeployment(t, client).Spec.Template.Spec.Containers[0].Command); !ok {
		t.Fatal("not wrapped after the conflicts")
	}
}

func TestRestoreDeploymentRejectsACorruptRecord(t *testing.T) {
	d := deployment(template(corev1.Container{Name: "app"}))
	d.Annotations[AnnotationOriginal] = "{not json"
	_, err := RestoreWorkload(context.Background(), fake.NewClientset(d), ns, web)
	if err == nil || !strings.Contains(err.Error(), "annotation kindling.dev/original-template is not a pod template") {
		t.Fatalf("error %v", err)
	}
}

// A context cancelled while WrapDeployment reads the Deployment (Ctrl-C during the start-up) is an error,
// not a success with nothing stored: client-go's RetryOnConflict takes the cancellation for its own give-up
// and returns nil (seen on the cluster as a nil pointer in Wrapper.Prepare).
func TestWrapDeploymentWithACancelledContextFails(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Command: []string{"python3", "app.py"}}}}}},
	}
	client := fake.NewClientset(d)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	client.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, ctx.Err()
	})
	stored, err := WrapWorkload(ctx, client, "ns", web, WrapOptions{Container: "app", Session: "me"})
	if err == nil || stored != nil {
		t.Fatalf("WrapDeployment with a cancelled context = %v, %v; want an error", stored, err)
	}
	w := &Wrapper{Client: client, Namespace: "ns", Workload: web, Options: WrapOptions{Container: "app", Session: "me"}}
	if err := w.Prepare(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Prepare with a cancelled context = %v, want context.Canceled", err)
	}
	if _, err := RestoreWorkloadAs(ctx, client, "ns", web, RestoreOptions{Identity: "me"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("restore with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestWrapAndRestoreEachKind: a StatefulSet and a DaemonSet are held, wrapped and restored as a
// Deployment is, and after the restore each is exactly the object it was, annotations included.
func TestWrapAndRestoreEachKind(t *testing.T) {
	ctx := context.Background()
	meta := metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{"team": "db"}, Labels: map[string]string{"app": name}}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	for tplName, original := range templates() {
		objects := []runtime.Object{
			&appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Selector: selector, Template: *original.DeepCopy(), ServiceName: name}},
			&appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: selector, Template: *original.DeepCopy()}},
		}
		for _, before := range objects {
			ref := kube.NewWorkload(before).Ref
			t.Run(ref.String()+"/"+tplName, func(t *testing.T) {
				client := fake.NewClientset(before.DeepCopyObject())
				get := func() *kube.Workload {
					t.Helper()
					w, err := kube.GetWorkload(ctx, client, ns, ref)
					if err != nil {
						t.Fatal(err)
					}
					return w
				}
				h, err := Acquire(ctx, client, ns, ref, "me", clock.NewFake(t0))
				if err != nil {
					t.Fatal(err)
				}
				wrapped, err := WrapWorkload(ctx, client, ns, ref, WrapOptions{Container: "app", ProcArgv: []string{"node", "server.js"}, Hold: time.Minute, Session: "me"})
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := supervisedArgv(wrapped.Template().Spec.Containers[len(original.Spec.Containers)-1].Command); !ok {
					t.Fatalf("the container is not wrapped: %+v", wrapped.Template().Spec.Containers)
				}
				if session, ok := WrappedSession(get().Meta()); !ok || session != "me" || HolderOf(get().Meta(), t0).Identity != "me" {
					t.Fatalf("WrappedSession = %q, %v; holder %v", session, ok, HolderOf(get().Meta(), t0))
				}
				if restored, err := RestoreWorkloadAs(ctx, client, ns, ref, RestoreOptions{Identity: "me", Clock: clock.NewFake(t0)}); err != nil || !restored {
					t.Fatalf("RestoreWorkloadAs = %v, %v", restored, err)
				}
				if err := h.Release(ctx); err != nil {
					t.Fatal(err)
				}
				after := get()
				// (The fake API server's own bookkeeping aside, as a real one's.)
				after.Meta().ManagedFields, after.Meta().ResourceVersion = nil, ""
				if !equality.Semantic.DeepEqual(after.Object(), before) {
					t.Fatalf("%s after the restore\n got %s\nwant %s", ref, toJSON(t, after.Object()), toJSON(t, before))
				}
			})
		}
	}
}
