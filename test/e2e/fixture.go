//go:build e2e

// Package e2e holds kindling's end-to-end tests: they run against a real Kubernetes cluster.
//
// Run them with
//
//	go test -tags e2e -count=1 -timeout 60m ./test/e2e/...
//
// The cluster: if KINDLING_E2E_KUBECONFIG is set, the tests use that cluster (kind, k3d, any real cluster
// whose node has the images below loaded); otherwise TestMain runs hack/cluster/up (idempotent, returns at
// once when the local cluster already runs) and uses $KINDLING_CLUSTER_DIR/kubeconfig
// (default /var/tmp/kindling-cluster/kubeconfig).
//
// Rules for tests in this package:
//   - each test works in its own namespace (Namespace(t)); it is deleted when the test ends;
//   - pods are reached only over loopback: Exec (a client inside the pod's own network namespace),
//     HTTPGet/PortForward (a port-forward bound to 127.0.0.1). Never at pod IPs or other private-range
//     addresses;
//   - every image is local: use the constants below with imagePullPolicy: Never (or IfNotPresent).
//
// The fixture's helpers fail the test (t.Fatal) on errors unless their name or doc says they return one.
package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	//lint:ignore SA1019 client-go v0.36's spdy.NewDialer and portforward still speak this package's Dialer
	apihttpstream "k8s.io/apimachinery/pkg/util/httpstream"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Images built by hack/cluster/images/build and imported into the local cluster's containerd. On another
// cluster, load the archives from $KINDLING_CLUSTER_DIR/cache/images (e.g. `kind load image-archive`).
const (
	// RuntimesImage is Debian bookworm with python3 (gunicorn, uvicorn), nodejs (nodemon), ruby (puma,
	// unicorn), perl, lua5.4, php-fpm, apache2 + mod_php, nginx, a JRE, curl, procps, GNU tar/find/coreutils.
	// Foreground servers: `nginx -g 'daemon off;'`, `apache2-foreground`, `php-fpm -F -R`.
	RuntimesImage = "kindling.local/runtimes:v1"
	// BareImage has no shell, no tar and no libc: /etc/passwd, /etc/group, /tmp, /root, CA certificates and
	// /idle (a static binary that sleeps until SIGTERM/SIGINT; the image's entrypoint).
	BareImage = "kindling.local/bare:v1"
	// PauseImage is the pod sandbox image.
	PauseImage = "kindling.local/pause:v1"
	// ToolboxImage is kindling's helper image as the harness builds it: a static BusyBox at /bin/busybox,
	// linked as every applet (passed as --helper-image: the default names a registry the tests cannot reach).
	ToolboxImage = "kindling.local/toolbox:v1"
	// ScratchGoImage holds only a static Go HTTP server, /app/server (hack/cluster/images/goserver), its
	// entrypoint, which answers "scratch-go v0" on :8080.
	ScratchGoImage = "kindling.local/scratch-go:v1"
)

// DefaultTimeout bounds the fixture's waits (rollouts, HTTP bodies) unless a helper takes its own timeout.
const DefaultTimeout = 3 * time.Minute

var (
	kubeconfigPath string
	restConfig     *rest.Config
	clientset      *kubernetes.Clientset
	dynClient      dynamic.Interface
	mapper         *restmapper.DeferredDiscoveryRESTMapper
	tmpDir         string
)

// RepoRoot is the repository's root directory (found from this file's location).
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("e2e: cannot locate fixture.go")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Run sets up the cluster connection, runs the tests and returns the exit code. TestMain calls it.
func Run(m *testing.M) int {
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", err)
		return 1
	}
	defer os.RemoveAll(tmpDir)
	return m.Run()
}

func setup() error {
	var err error
	tmpDir, err = os.MkdirTemp("", "kindling-e2e-")
	if err != nil {
		return err
	}
	kubeconfigPath = os.Getenv("KINDLING_E2E_KUBECONFIG")
	if kubeconfigPath == "" {
		up := exec.Command(filepath.Join(RepoRoot(), "hack", "cluster", "up"))
		up.Stdout, up.Stderr = os.Stderr, os.Stderr
		if err := up.Run(); err != nil {
			return fmt.Errorf("hack/cluster/up: %w", err)
		}
		dir := os.Getenv("KINDLING_CLUSTER_DIR")
		if dir == "" {
			dir = "/var/tmp/kindling-cluster"
		}
		kubeconfigPath = filepath.Join(dir, "kubeconfig")
	}
	restConfig, err = clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfigPath, err)
	}
	restConfig.QPS, restConfig.Burst = 100, 200
	if clientset, err = kubernetes.NewForConfig(restConfig); err != nil {
		return err
	}
	if dynClient, err = dynamic.NewForConfig(restConfig); err != nil {
		return err
	}
	mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(clientset.Discovery()))
	v, err := clientset.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("cluster at %s unreachable: %w", kubeconfigPath, err)
	}
	fmt.Fprintf(os.Stderr, "e2e: cluster %s (Kubernetes %s), kubeconfig %s\n", restConfig.Host, v.GitVersion, kubeconfigPath)
	return nil
}

// Kubeconfig is the path of the kubeconfig the tests use (pass it to kindling with --kubeconfig or KUBECONFIG).
func Kubeconfig() string { return kubeconfigPath }

// RESTConfig returns a copy of the cluster's client configuration.
func RESTConfig() *rest.Config { return rest.CopyConfig(restConfig) }

// Clientset is a typed client for the cluster.
func Clientset() *kubernetes.Clientset { return clientset }

// Dynamic is a dynamic client for the cluster.
func Dynamic() dynamic.Interface { return dynClient }

// ctx returns a context cancelled when the test ends.
func ctx(t testing.TB) context.Context { return t.Context() }

// ---------------------------------------------------------------------------------------------------------
// Namespaces and objects

var nsUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace unique to the test (named after it, labelled kindling-e2e=true) and deletes it
// when the test ends, without waiting for the deletion to finish (its pods are deleted with no grace period).
func Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nsUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := fmt.Sprintf("e2e-%s-%s", base, hex.EncodeToString(b))
	_, err := clientset.CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kindling-e2e": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	// Wait for the default ServiceAccount: pods are refused until it exists.
	waitFor(t, 60*time.Second, "ServiceAccount "+name+"/default", func() (bool, error) {
		_, err := clientset.CoreV1().ServiceAccounts(name).Get(ctx(t), "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		zero := int64(0)
		_ = clientset.CoreV1().Pods(name).DeleteCollection(c, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		bg := metav1.DeletePropagationBackground
		if err := clientset.CoreV1().Namespaces().Delete(c, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
			t.Logf("delete namespace %s: %v", name, err)
		}
	})
	return name
}

// Apply creates or updates (server-side apply) every object in the YAML (multi-document) or JSON manifest.
// Namespaced objects are put into ns. It returns the objects as applied.
func Apply(t testing.TB, ns, manifest string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := decodeManifest(manifest)
	if err != nil {
		t.Fatalf("decode manifest: %v", err)
	}
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		applied, err := applyObject(ctx(t), ns, obj)
		if err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		out = append(out, applied)
	}
	return out
}

func decodeManifest(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "List" {
			list, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		objs = append(objs, u)
	}
}

func applyObject(c context.Context, ns string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		mapper.Reset()
		if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, err
		}
	}
	var ri dynamic.ResourceInterface = dynClient.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		obj.SetNamespace(ns)
		ri = dynClient.Resource(mapping.Resource).Namespace(ns)
	}
	return ri.Apply(c, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kindling-e2e", Force: true})
}

// DeployApp applies the manifest into ns and waits until every Deployment in it has rolled out and its pods
// are Ready. It returns the name of the first Deployment in the manifest ("" if there is none).
func DeployApp(t testing.TB, ns, manifest string) string {
	t.Helper()
	first := ""
	for _, obj := range Apply(t, ns, manifest) {
		if obj.GetKind() == "Deployment" {
			if first == "" {
				first = obj.GetName()
			}
			WaitRollout(t, ns, obj.GetName())
		}
	}
	return first
}

// WaitRollout waits (up to DefaultTimeout) until the Deployment's latest generation is observed, all its
// replicas are updated and available, no old replica remains, and exactly spec.replicas non-terminating pods
// are Ready. On timeout it fails the test with the pods' states.
func WaitRollout(t testing.TB, ns, name string) {
	t.Helper()
	WaitRolloutTimeout(t, ns, name, DefaultTimeout)
}

// WaitRolloutTimeout is WaitRollout with a timeout.
func WaitRolloutTimeout(t testing.TB, ns, name string, timeout time.Duration) {
	t.Helper()
	var last string
	ok := poll(ctx(t), timeout, 200*time.Millisecond, func() bool {
		d, err := clientset.AppsV1().Deployments(ns).Get(ctx(t), name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		if d.Generation > s.ObservedGeneration || s.UpdatedReplicas != want || s.Replicas != want || s.AvailableReplicas != want {
			last = fmt.Sprintf("generation %d observed %d, replicas %d updated %d available %d, want %d",
				d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas, want)
			return false
		}
		pods, err := listPods(ctx(t), ns, d)
		if err != nil {
			last = err.Error()
			return false
		}
		ready := 0
		for _, p := range pods {
			if podReady(&p) {
				ready++
			}
		}
		last = fmt.Sprintf("%d of %d pods Ready: %s", ready, want, describePods(pods))
		return ready == int(want) && len(pods) == int(want)
	})
	if !ok {
		t.Fatalf("deployment %s/%s did not roll out in %v: %s", ns, name, timeout, last)
	}
}

// Pods returns the Deployment's pods (by its selector) that are not terminating, sorted by name.
func Pods(t testing.TB, ns, deploy string) []corev1.Pod {
	t.Helper()
	d, err := clientset.AppsV1().Deployments(ns).Get(ctx(t), deploy, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, deploy, err)
	}
	pods, err := listPods(ctx(t), ns, d)
	if err != nil {
		t.Fatalf("list pods of %s/%s: %v", ns, deploy, err)
	}
	return pods
}

// ReadyPods returns the names of the Deployment's Ready, non-terminating pods, sorted.
func ReadyPods(t testing.TB, ns, deploy string) []string {
	t.Helper()
	var names []string
	for _, p := range Pods(t, ns, deploy) {
		if podReady(&p) {
			names = append(names, p.Name)
		}
	}
	return names
}

// Pod returns the name of the Deployment's first Ready pod. It waits a while for one: a readiness probe
// that ran while the app restarted marks its pod unready until the next probe.
func Pod(t testing.TB, ns, deploy string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if names := ReadyPods(t, ns, deploy); len(names) > 0 {
			return names[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s/%s has no Ready pod after 30s", ns, deploy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func listPods(c context.Context, ns string, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, err
	}
	list, err := clientset.CoreV1().Pods(ns).List(c, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describePods(pods []corev1.Pod) string {
	var parts []string
	for _, p := range pods {
		s := fmt.Sprintf("%s=%s", p.Name, p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil:
				s += fmt.Sprintf(" %s:waiting(%s: %s)", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
			case cs.State.Terminated != nil:
				s += fmt.Sprintf(" %s:terminated(%s, exit %d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
			}
			if cs.RestartCount > 0 {
				s += fmt.Sprintf(" %s:restarts=%d", cs.Name, cs.RestartCount)
			}
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no pods"
	}
	return strings.Join(parts, "; ")
}

// Logs returns the logs of a container of a pod (previous=true: of its previous instance).
func Logs(t testing.TB, ns, pod, container string, previous bool) string {
	t.Helper()
	b, err := clientset.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous}).DoRaw(ctx(t))
	if err != nil {
		t.Fatalf("logs of %s/%s[%s]: %v", ns, pod, container, err)
	}
	return string(b)
}

// SimpleDeployment returns the manifest of a one-replica Deployment `name` (label app=name) with one container
// `app` running argv (none: the image's entrypoint) from image in workDir, with imagePullPolicy Never and a 1 s termination grace period.
// A readiness probe on port is added when port > 0 (TCP). Extend or write the YAML by hand for anything else.
func SimpleDeployment(name, image, workDir string, port int, argv ...string) string {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	var cmd []string
	for _, a := range argv {
		cmd = append(cmd, q(a))
	}
	probe := ""
	if port > 0 {
		probe = fmt.Sprintf(`
        ports: [{containerPort: %d}]
        readinessProbe:
          tcpSocket: {port: %d}
          periodSeconds: 1
          failureThreshold: 1`, port, port)
	}
	wd := ""
	if workDir != "" {
		wd = "\n        workingDir: " + q(workDir)
	}
	command := ""
	if len(cmd) > 0 {
		command = "\n        command: [" + strings.Join(cmd, ", ") + "]"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: %[2]s
        imagePullPolicy: Never%[3]s%[4]s%[5]s
`, name, image, command, wd, probe)
}

// ---------------------------------------------------------------------------------------------------------
// Exec

// Exec runs argv in a container of a pod (client-go remotecommand: WebSocket, falling back to SPDY) and
// returns its stdout and stderr. stdin may be nil. A non-zero exit is returned as an error that
// k8s.io/client-go/util/exec.CodeExitError matches (errors.As), with the streams still returned.
// container may be "" for a pod with one container.
func Exec(t testing.TB, ns, pod, container string, argv []string, stdin io.Reader) (stdout, stderr string, err error) {
	t.Helper()
	return ExecContext(ctx(t), ns, pod, container, argv, stdin)
}

// ExecContext is Exec without a testing.TB (usable from goroutines).
func ExecContext(c context.Context, ns, pod, container string, argv []string, stdin io.Reader) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = ExecStream(c, ns, pod, container, argv, stdin, &out, &errb)
	return out.String(), errb.String(), err
}

// ExecStream is ExecContext with the caller's streams: output reaches stdout and stderr while the command
// runs (e.g. a poller inside the pod reporting what it sees). Any of the three may be nil.
func ExecStream(c context.Context, ns, pod, container string, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	req := clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: container,
			Command:   argv,
			Stdin:     stdin != nil,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(restConfig, "GET", req.URL().String())
	if err != nil {
		return err
	}
	sp, err := remotecommand.NewSPDYExecutor(restConfig, "POST", req.URL())
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, sp, shouldFallback)
	if err != nil {
		return err
	}
	return ex.StreamWithContext(c, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func shouldFallback(err error) bool {
	return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err) ||
		httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
}

// MustExec is Exec that fails the test on any error (including a non-zero exit) and returns stdout.
func MustExec(t testing.TB, ns, pod, container string, argv ...string) string {
	t.Helper()
	out, errOut, err := Exec(t, ns, pod, container, argv, nil)
	if err != nil {
		t.Fatalf("exec %q in %s/%s: %v\nstdout: %s\nstderr: %s", argv, ns, pod, err, out, errOut)
	}
	return out
}

// WriteFile writes content to file inside the container through exec (`sh -c 'cat > file'` fed on stdin),
// creating parent directories. The container needs sh, mkdir, dirname and cat (the runtimes image has them).
func WriteFile(t testing.TB, ns, pod, container, file, content string) {
	t.Helper()
	script := `mkdir -p "$(dirname "$1")" && cat > "$1"`
	if _, errOut, err := Exec(t, ns, pod, container, []string{"sh", "-c", script, "sh", file}, strings.NewReader(content)); err != nil {
		t.Fatalf("write %s in %s/%s: %v: %s", file, ns, pod, err, errOut)
	}
}

// CopyToPod copies a local directory tree into dir inside the container as a tar stream piped into
// `tar -x` (GNU tar in the runtimes image). Modes and symlinks are kept.
func CopyToPod(t testing.TB, ns, pod, container, localDir, dir string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(localDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(localDir, p)
		if rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatalf("tar %s: %v", localDir, err)
	}
	argv := []string{"tar", "-x", "-f", "-", "-C", dir, "--no-same-owner"}
	if _, errOut, err := Exec(t, ns, pod, container, []string{"mkdir", "-p", dir}, nil); err != nil {
		t.Fatalf("mkdir %s in %s/%s: %v: %s", dir, ns, pod, err, errOut)
	}
	if _, errOut, err := Exec(t, ns, pod, container, argv, &buf); err != nil {
		t.Fatalf("untar into %s in %s/%s: %v: %s", dir, ns, pod, err, errOut)
	}
}

// ---------------------------------------------------------------------------------------------------------
// File trees

// A tree maps every entry under a directory, by its slash-separated path relative to that directory, to a
// description: "file:<permission bits in octal>:<sha256 hex>" for regular files (e.g. "file:644:e3b0…"),
// "dir" for directories, "link:<target>" for symlinks and "other:<find %y letter>" for anything else
// (fifos, sockets, devices). Permission bits include setuid/setgid/sticky (e.g. 4755, 1777).

// ReadTree reads the tree under dir inside the container (see above). It needs GNU find and sha256sum in the
// container (the runtimes image has them; not the bare image) and handles any file name (spaces, quotes,
// newlines, unicode: the output is NUL-separated). dir itself may be a symlink to a directory.
func ReadTree(t testing.TB, ns, pod, container, dir string) map[string]string {
	t.Helper()
	tree, err := ReadTreeContext(ctx(t), ns, pod, container, dir)
	if err != nil {
		t.Fatalf("read tree %s in %s/%s: %v", dir, ns, pod, err)
	}
	return tree
}

// ReadTreeContext is ReadTree returning an error instead of failing the test (e.g. for polling).
func ReadTreeContext(c context.Context, ns, pod, container, dir string) (map[string]string, error) {
	dir = path.Clean(dir)
	// type, mode, relative path, link target: 4 NUL-terminated fields per entry.
	out, errOut, err := ExecContext(c, ns, pod, container,
		[]string{"find", "-H", dir, "-mindepth", "1", "-printf", `%y\0%m\0%P\0%l\0`}, nil)
	if err != nil {
		return nil, fmt.Errorf("find: %w: %s", err, errOut)
	}
	fields := strings.Split(out, "\x00")
	if len(fields)%4 != 1 || fields[len(fields)-1] != "" {
		return nil, fmt.Errorf("find: unexpected output (%d fields)", len(fields))
	}
	tree := map[string]string{}
	files := 0
	for i := 0; i+3 < len(fields); i += 4 {
		typ, mode, rel, target := fields[i], fields[i+1], fields[i+2], fields[i+3]
		switch typ {
		case "d":
			tree[rel] = "dir"
		case "l":
			tree[rel] = "link:" + target
		case "f":
			tree[rel] = "file:" + mode + ":"
			files++
		default:
			tree[rel] = "other:" + typ
		}
	}
	if files == 0 {
		return tree, nil
	}
	out, errOut, err = ExecContext(c, ns, pod, container,
		[]string{"find", "-H", dir, "-mindepth", "1", "-type", "f", "-exec", "sha256sum", "-z", "--", "{}", "+"}, nil)
	if err != nil {
		return nil, fmt.Errorf("sha256sum: %w: %s", err, errOut)
	}
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	for _, line := range strings.Split(out, "\x00") {
		if line == "" {
			continue
		}
		// "<64 hex><space><space or *><path>"; -z disables file name escaping.
		if len(line) < 67 {
			return nil, fmt.Errorf("sha256sum: unexpected line %q", line)
		}
		sum, rel := line[:64], strings.TrimPrefix(line[66:], prefix)
		v, ok := tree[rel]
		if !ok || !strings.HasPrefix(v, "file:") {
			return nil, fmt.Errorf("sha256sum: %q is not a file found by find", rel)
		}
		tree[rel] = v + sum
	}
	for rel, v := range tree {
		if strings.HasPrefix(v, "file:") && strings.HasSuffix(v, ":") {
			return nil, fmt.Errorf("no checksum for %q (changed while reading?)", rel)
		}
	}
	return tree, nil
}

// LocalTree computes the tree (see ReadTree) of a local directory. exclude, if not nil, is called with each
// entry's slash-separated relative path; returning true leaves the entry out (and, for a directory,
// everything under it).
func LocalTree(t testing.TB, dir string, exclude func(rel string, isDir bool) bool) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if exclude != nil && exclude(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		m := info.Mode()
		switch {
		case m.IsDir():
			tree[rel] = "dir"
		case m&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			tree[rel] = "link:" + target
		case m.IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			tree[rel] = fmt.Sprintf("file:%o:%s", permBits(m), hex.EncodeToString(h.Sum(nil)))
		default:
			tree[rel] = "other:" + findType(m)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("local tree %s: %v", dir, err)
	}
	return tree
}

func permBits(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

func findType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "p"
	case m&fs.ModeSocket != 0:
		return "s"
	case m&fs.ModeCharDevice != 0:
		return "c"
	case m&fs.ModeDevice != 0:
		return "b"
	}
	return "?"
}

// DiffTrees returns a description of the first difference between two trees (in path order), or "" if they
// are equal.
func DiffTrees(a, b map[string]string) string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		va, inA := a[k]
		vb, inB := b[k]
		switch {
		case !inA:
			return fmt.Sprintf("%q: only in second (%s)", k, vb)
		case !inB:
			return fmt.Sprintf("%q: only in first (%s)", k, va)
		case va != vb:
			return fmt.Sprintf("%q: %s != %s", k, va, vb)
		}
	}
	return ""
}

// ---------------------------------------------------------------------------------------------------------
// HTTP over a port-forward to 127.0.0.1

// PortForward forwards a local port on 127.0.0.1 to port of the pod (client-go port-forward: WebSocket
// tunnelling, falling back to SPDY). It returns the local port and a function that stops the forward (also
// called when the test ends).
func PortForward(t testing.TB, ns, pod string, port int) (localPort int, stop func()) {
	t.Helper()
	lp, stop, err := PortForwardContext(ns, pod, port)
	if err != nil {
		t.Fatalf("port-forward to %s/%s:%d: %v", ns, pod, port, err)
	}
	t.Cleanup(stop)
	return lp, stop
}

// PortForwardContext is PortForward returning an error instead of failing the test; the caller must call stop.
func PortForwardContext(ns, pod string, port int) (localPort int, stop func(), err error) {
	req := clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(restConfig)
	if err != nil {
		return 0, nil, err
	}
	var dialer apihttpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", req.URL())
	if ws, err := portforward.NewSPDYOverWebsocketDialer(req.URL(), restConfig); err == nil {
		dialer = portforward.NewFallbackDialer(ws, dialer, shouldFallback)
	}
	stopCh, readyCh := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)},
		stopCh, readyCh, io.Discard, &lockedBuffer{})
	if err != nil {
		return 0, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	var once sync.Once
	stop = func() { once.Do(func() { close(stopCh) }) }
	select {
	case <-readyCh:
	case err := <-done:
		stop()
		if err == nil {
			err = errors.New("port-forward ended before it was ready")
		}
		return 0, nil, err
	case <-time.After(30 * time.Second):
		stop()
		return 0, nil, errors.New("port-forward not ready after 30s")
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return 0, nil, fmt.Errorf("port-forward ports: %v", err)
	}
	return int(ports[0].Local), stop, nil
}

// lockedBuffer collects what a process or a stream writes, and may be read meanwhile.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// HTTPGet sends GET path to port of the pod through a fresh port-forward to 127.0.0.1 and returns the status
// code and body. It does not fail the test: errors are returned (a restarting pod refuses connections).
func HTTPGet(t testing.TB, ns, pod string, port int, path string) (status int, body string, err error) {
	t.Helper()
	return HTTPGetContext(ctx(t), ns, pod, port, path)
}

// HTTPGetContext is HTTPGet without a testing.TB.
func HTTPGetContext(c context.Context, ns, pod string, port int, path string) (status int, body string, err error) {
	lp, stop, err := PortForwardContext(ns, pod, port)
	if err != nil {
		return 0, "", err
	}
	defer stop()
	return HTTPGetLocal(c, lp, path)
}

// HTTPGetLocal sends GET path to 127.0.0.1:localPort (e.g. a PortForward) with a 10 s timeout.
func HTTPGetLocal(c context.Context, localPort int, path string) (status int, body string, err error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	c, cancel := context.WithTimeout(c, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(c, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", localPort, path), nil)
	if err != nil {
		return 0, "", err
	}
	req.Close = true
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// WaitHTTPBody polls until every Ready pod of the Deployment answers GET path on port with status 200 and a
// body containing want (pods are looked up again on every round; port-forward and connection errors are
// tolerated while pods restart). It fails the test after timeout with the last answers. It returns the time
// from the call until the condition held.
func WaitHTTPBody(t testing.TB, ns, deploy string, port int, path, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	ok := poll(ctx(t), timeout, 200*time.Millisecond, func() bool {
		d, err := clientset.AppsV1().Deployments(ns).Get(ctx(t), deploy, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false
		}
		pods, err := listPods(ctx(t), ns, d)
		if err != nil {
			last = err.Error()
			return false
		}
		good, ready, answers := serving(ctx(t), ns, pods, port, path, want, podReady)
		last = fmt.Sprintf("%d/%d Ready pods serve %q; %s; pods: %s", good, ready, want, answers, describePods(pods))
		return ready > 0 && good == ready
	})
	if !ok {
		t.Fatalf("%s/%s did not serve %q on :%d%s within %v: %s", ns, deploy, want, port, path, timeout, last)
	}
	return time.Since(start)
}

// serving asks each pod that counts (of pods) for GET path on port: good of them answered 200 with a
// body containing want; answers says what the others answered.
func serving(c context.Context, ns string, pods []corev1.Pod, port int, path, want string, counts func(*corev1.Pod) bool) (good, asked int, answers string) {
	var bad []string
	for _, p := range pods {
		if !counts(&p) {
			continue
		}
		asked++
		status, body, err := HTTPGetContext(c, ns, p.Name, port, path)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", p.Name, err))
		case status != http.StatusOK || !strings.Contains(body, want):
			bad = append(bad, fmt.Sprintf("%s: %d %q", p.Name, status, truncate(body, 200)))
		default:
			good++
		}
	}
	return good, asked, strings.Join(bad, "; ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ---------------------------------------------------------------------------------------------------------
// kindling binary and polling

var (
	kindlingOnce sync.Once
	kindlingPath string
	kindlingErr  error
)

// Kindling builds ./cmd/kindling once per test binary (into a temporary directory) and returns its path.
func Kindling(t testing.TB) string {
	t.Helper()
	kindlingOnce.Do(func() {
		kindlingPath = filepath.Join(tmpDir, "kindling")
		cmd := exec.Command("go", "build", "-o", kindlingPath, "./cmd/kindling")
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			kindlingErr = fmt.Errorf("go build ./cmd/kindling: %v\n%s", err, out)
		}
	})
	if kindlingErr != nil {
		t.Fatal(kindlingErr)
	}
	return kindlingPath
}

// KindlingCmd returns an exec.Cmd running the kindling binary with args and KUBECONFIG set to the tests'
// cluster (cancelled when the test ends).
func KindlingCmd(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx(t), Kindling(t), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath)
	return cmd
}

// Eventually polls cond every interval until it returns nil or timeout passes; then it fails the test with
// cond's last error.
func Eventually(t testing.TB, timeout, interval time.Duration, cond func() error) {
	t.Helper()
	var last error
	ok := poll(ctx(t), timeout, interval, func() bool {
		last = cond()
		return last == nil
	})
	if !ok {
		t.Fatalf("condition not met within %v: %v", timeout, last)
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	ok := poll(ctx(t), timeout, 100*time.Millisecond, func() bool {
		done, err := cond()
		last = err
		return done
	})
	if !ok {
		t.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
	}
}

// poll calls cond until it returns true (then poll returns true) or the timeout passes or c ends.
func poll(c context.Context, timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-c.Done():
			return false
		case <-time.After(interval):
		}
	}
}

// SelectorOf returns the label selector string of a Deployment.
func SelectorOf(t testing.TB, ns, deploy string) string {
	t.Helper()
	d, err := clientset.AppsV1().Deployments(ns).Get(ctx(t), deploy, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, deploy, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatalf("selector of %s/%s: %v", ns, deploy, err)
	}
	return sel.String()
}

// WriteLocalFile writes content to root/rel (slash-separated, parents created) with exactly mode.
func WriteLocalFile(t testing.TB, root, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// LocalSymlink creates the symlink root/rel pointing at target.
func LocalSymlink(t testing.TB, root, rel, target string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(rel))); err != nil {
		t.Fatal(err)
	}
}

// DebugContainer adds (once per pod and target) an ephemeral container running the runtimes image in the
// process namespace of container target of the pod, waits until it runs and returns its name. Through it a
// test can look into a container whose image has no shell or tools (the bare image): the target's files are
// under /proc/1/root/ in the debug container (see ReadTreeViaDebug).
func DebugContainer(t testing.TB, ns, pod, target string) string {
	t.Helper()
	name := "e2e-debug-" + target
	p, err := clientset.CoreV1().Pods(ns).Get(ctx(t), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s/%s: %v", ns, pod, err)
	}
	exists := false
	for _, ec := range p.Spec.EphemeralContainers {
		exists = exists || ec.Name == name
	}
	if !exists {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
			TargetContainerName: target,
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name:            name,
				Image:           RuntimesImage,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sleep", "infinity"},
			},
		})
		if _, err := clientset.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx(t), pod, p, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("add ephemeral container to %s/%s: %v", ns, pod, err)
		}
	}
	waitFor(t, 60*time.Second, "ephemeral container "+name+" in "+ns+"/"+pod, func() (bool, error) {
		p, err := clientset.CoreV1().Pods(ns).Get(ctx(t), pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range p.Status.EphemeralContainerStatuses {
			if s.Name == name && s.State.Running != nil {
				return true, nil
			}
		}
		return false, nil
	})
	return name
}

// ReadTreeViaDebug is ReadTree for a container without find/sha256sum (or without a shell): it reads
// /proc/1/root/<dir> from a DebugContainer sharing the target container's process namespace. The target's
// PID 1 must be its main process (the default, without shareProcessNamespace).
func ReadTreeViaDebug(t testing.TB, ns, pod, container, dir string) map[string]string {
	t.Helper()
	dbg := DebugContainer(t, ns, pod, container)
	return ReadTree(t, ns, pod, dbg, "/proc/1/root"+path.Clean("/"+dir))
}

// Seed puts files into dir of the pod's container before it starts, the way an image would carry the
// code, leaving the container's command exactly as given: an init container copies them from a ConfigMap
// (name-seed) into an emptyDir mounted at dir. It adds the init container and volumes to spec and the
// mount to container, and returns the ConfigMap to apply along with the Deployment.
func Seed(spec, container map[string]any, name, dir string, files map[string]string) (configMap map[string]any) {
	code := map[string]any{"name": "code", "mountPath": dir}
	container["volumeMounts"] = append(anySlice(container["volumeMounts"]), code)
	spec["initContainers"] = append(anySlice(spec["initContainers"]), map[string]any{
		"name": "seed", "image": RuntimesImage, "imagePullPolicy": "Never",
		"command":      []string{"sh", "-c", `cp -L /seed/* "$0"/`, dir},
		"volumeMounts": []any{code, map[string]any{"name": "seed", "mountPath": "/seed"}},
	})
	spec["volumes"] = append(anySlice(spec["volumes"]),
		map[string]any{"name": "code", "emptyDir": map[string]any{}},
		map[string]any{"name": "seed", "configMap": map[string]any{"name": name + "-seed"}})
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name + "-seed"}, "data": files}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}
