//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// deniedWithin bounds a run that lacks a permission: it must fail at once, not retry or hang. (A run that
// has every permission takes a few seconds to reach the same point.)
const deniedWithin = 20 * time.Second

var rbacApp = app{name: "rbac", dest: "/app", port: 8080, files: map[string]string{"server.py": pythonServer},
	command: []string{"python3", "/app/server.py"}}

// TestRBACLeastPrivilege runs kindling as a ServiceAccount bound to exactly the Roles of deploy/rbac.yaml:
// a plain --once sync and a --restart --once session (with --keep, then kindling restore) succeed. Then,
// with each single permission taken away, kindling fails within deniedWithin with one line naming the verb,
// the resource and the fix, and leaves the Deployment exactly as it was.
func TestRBACLeastPrivilege(t *testing.T) {
	t.Parallel()
	roles := shippedRoles(t)
	sync, restart := roles["kindling"].Rules, roles["kindling-restart"].Rules
	if len(sync) == 0 || len(restart) == 0 {
		t.Fatalf("deploy/rbac.yaml: want Roles kindling and kindling-restart with rules, got %v", slices.Collect(maps.Keys(roles)))
	}
	ns := Namespace(t)
	deploy := rbacApp.deploy(t, ns, 1)
	original := deploymentState(t, ns, deploy)
	src := rbacApp.source(t)
	cache := t.TempDir() // kindling's hash caches and warm-shell hints: this test's own

	t.Run("sync --once", func(t *testing.T) {
		kc := accountKubeconfig(t, ns, "sync", sync)
		WriteLocalFile(t, src, "note.txt", "synced as a least-privilege account\n", 0o644)
		out, err := kindlingAs(t.Context(), t, kc, cache, "sync", "-d", deploy, "-n", ns, "--src", src, "--once").CombinedOutput()
		if err != nil {
			t.Fatalf("kindling sync --once as %s: %v\n%s", "sync", err, out)
		}
		if got := MustExec(t, ns, Pod(t, ns, deploy), "app", "cat", "/app/note.txt"); got != "synced as a least-privilege account\n" {
			t.Fatalf("/app/note.txt in the pod: %q", got)
		}
	})

	t.Run("sync --restart --once", func(t *testing.T) {
		kc := accountKubeconfig(t, ns, "restart", slices.Concat(sync, restart))
		edit(t, src, "server.py", "v1", "v2")
		// --keep leaves the restarted app serving, so that the restart is seen; kindling restore (as the
		// same account) then undoes it.
		out, err := kindlingAs(t.Context(), t, kc, cache, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--once", "--keep").CombinedOutput()
		if err != nil {
			t.Fatalf("kindling sync --restart --once --keep: %v\n%s", err, out)
		}
		WaitHTTPBody(t, ns, deploy, 8080, "/", "python v2", 60*time.Second)
		out, err = kindlingAs(t.Context(), t, kc, cache, "restore", "-d", deploy, "-n", ns).CombinedOutput()
		if err != nil {
			t.Fatalf("kindling restore: %v\n%s", err, out)
		}
		if got := deploymentState(t, ns, deploy); got != original {
			t.Fatalf("Deployment after kindling restore differs from the original:\n got: %s\nwant: %s", got, original)
		}
		// And the whole session without --keep, which restores the Deployment itself.
		edit(t, src, "server.py", "v2", "v3")
		out, err = kindlingAs(t.Context(), t, kc, cache, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--once").CombinedOutput()
		if err != nil {
			t.Fatalf("kindling sync --restart --once: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "restored deployment/"+deploy) {
			t.Fatalf("kindling sync --restart --once did not say it restored the Deployment:\n%s", out)
		}
		if got := deploymentState(t, ns, deploy); got != original {
			t.Fatalf("Deployment after --restart --once differs from the original:\n got: %s\nwant: %s", got, original)
		}
		WaitRollout(t, ns, deploy)
	})

	type permission struct{ group, resource, verb string }
	cases := []struct {
		name string
		args []string // after sync -d DEPLOYMENT -n NAMESPACE --src SRC
		drop permission
	}{
		{"no create exec", []string{"--once"}, permission{"", "pods/exec", "create"}},
		// (Without get pods/exec the WebSocket exec is refused and kindling falls back to SPDY, which needs
		// only create: it works, so that case is no refusal.)
		{"no get deployments", []string{"--once"}, permission{"apps", "deployments", "get"}},
		{"no list replicasets", []string{"--once"}, permission{"apps", "replicasets", "list"}},
		{"no list pods", []string{"--once"}, permission{"", "pods", "list"}},
		// --once reads the pods once, so only a watching session needs watch; it must not go on blind.
		{"watching, no watch pods", nil, permission{"", "pods", "watch"}},
		{"restart no exec", []string{"--restart", "--once"}, permission{"", "pods/exec", "create"}},
		{"restart keep no exec", []string{"--restart", "--once", "--keep"}, permission{"", "pods/exec", "create"}},
		{"restart no update deployments", []string{"--restart", "--once"}, permission{"apps", "deployments", "update"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules := sync
			if slices.Contains(tc.args, "--restart") {
				rules = slices.Concat(sync, restart)
			}
			rules = withoutPermission(rules, tc.drop.group, tc.drop.resource, tc.drop.verb)
			kc := accountKubeconfig(t, ns, fmt.Sprintf("denied-%d", i), rules)
			args := append([]string{"sync", "-d", deploy, "-n", ns, "--src", src}, tc.args...)
			// The bound is kindling's to keep: the test's own timeout is well past it, so that a hang is
			// reported as one rather than as a kill.
			c, cancel := context.WithTimeout(t.Context(), deniedWithin+10*time.Second)
			defer cancel()
			cmd := kindlingAs(c, t, kc, cache, args...)
			start := time.Now()
			b, err := cmd.CombinedOutput()
			took := time.Since(start)
			out := string(b)
			mode := strings.Join(tc.args, " ")
			if mode == "" {
				mode = "(watching)"
			}
			t.Logf("kindling sync %s without %s %s (%v):\n%s", mode, tc.drop.verb, tc.drop.resource, took.Round(time.Millisecond), out)
			var exit *exec.ExitError
			switch {
			case err == nil:
				t.Errorf("kindling succeeded without %s %s", tc.drop.verb, tc.drop.resource)
			case c.Err() != nil:
				t.Errorf("kindling still ran after %v without %s %s: it must fail at once", took.Round(time.Second), tc.drop.verb, tc.drop.resource)
			case !errors.As(err, &exit) || exit.ExitCode() != 1:
				t.Errorf("kindling: %v, want exit status 1", err)
			}
			if took > deniedWithin {
				t.Errorf("kindling took %v to fail, want at most %v", took.Round(time.Millisecond), deniedWithin)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
				t.Errorf("kindling printed a stack trace")
			}
			// The error is kindling's last line; it names what was refused and how to get it.
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			last := lines[len(lines)-1]
			action := tc.drop.verb + " " + tc.drop.resource
			if !strings.HasPrefix(last, "kindling: ") || !strings.Contains(last, action) || !strings.Contains(strings.ToLower(last), "role") {
				t.Errorf("last line %q: want one line \"kindling: …\" naming %q and the fix (an RBAC role that allows it)", last, action)
			}
			if n := strings.Count(out, action); n > 2 {
				t.Errorf("%q said %d times: want it once, not a stream of errors", action, n)
			}
			if got := deploymentState(t, ns, deploy); got != original {
				t.Errorf("the Deployment changed:\n got: %s\nwant: %s", got, original)
				// The next case starts from the original again (as admin).
				if out, err := KindlingCmd(t, "restore", "-d", deploy, "-n", ns, "--force").CombinedOutput(); err != nil {
					t.Fatalf("kindling restore --force: %v\n%s", err, out)
				}
				WaitRollout(t, ns, deploy)
			}
		})
	}
}

// shippedRoles reads the Roles of deploy/rbac.yaml, by name.
func shippedRoles(t *testing.T) map[string]rbacv1.Role {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "deploy", "rbac.yaml"))
	must(t, err)
	objs, err := decodeManifest(string(b))
	must(t, err)
	roles := map[string]rbacv1.Role{}
	for _, o := range objs {
		if o.GetKind() != "Role" {
			continue
		}
		var r rbacv1.Role
		must(t, kruntime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r))
		roles[r.Name] = r
	}
	return roles
}

// withoutPermission returns rules less one verb on one resource (the rest of each rule stays).
func withoutPermission(rules []rbacv1.PolicyRule, group, resource, verb string) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		r = *r.DeepCopy()
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			r.Verbs = slices.DeleteFunc(r.Verbs, func(v string) bool { return v == verb })
			if len(r.Resources) > 1 { // keep the verb for the rule's other resources
				keep := *r.DeepCopy()
				keep.Resources = slices.DeleteFunc(keep.Resources, func(s string) bool { return s == resource })
				keep.Verbs = append(keep.Verbs, verb)
				out = append(out, keep)
				r.Resources = []string{resource}
			}
			if len(r.Verbs) == 0 {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// accountKubeconfig creates a ServiceAccount with a Role of exactly rules bound to it, and writes a
// kubeconfig that reaches the tests' API server (same address and CA) with a token of that account from
// the TokenRequest API.
func accountKubeconfig(t *testing.T, ns, name string, rules []rbacv1.PolicyRule) string {
	t.Helper()
	c := t.Context()
	cs := Clientset()
	_, err := cs.CoreV1().ServiceAccounts(ns).Create(c, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	must(t, err)
	_, err = cs.RbacV1().Roles(ns).Create(c, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	must(t, err)
	_, err = cs.RbacV1().RoleBindings(ns).Create(c, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}, metav1.CreateOptions{})
	must(t, err)
	expiry := int64(3600)
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(c, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	must(t, err)

	rc := RESTConfig()
	ca := rc.CAData
	if len(ca) == 0 && rc.CAFile != "" {
		ca, err = os.ReadFile(rc.CAFile)
		must(t, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: ca,
		TLSServerName: rc.ServerName, InsecureSkipTLSVerify: rc.Insecure}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = name
	path := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, clientcmd.WriteToFile(*cfg, path))
	// A new binding reaches the authorizer's cache within moments: wait until the account may do what its
	// Role allows, so that a denial below is the Role's doing and not a binding not yet seen.
	cc, err := clientcmd.BuildConfigFromFlags("", path)
	must(t, err)
	as, err := kubernetes.NewForConfig(cc)
	must(t, err)
	resource, sub, _ := strings.Cut(rules[0].Resources[0], "/")
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: rules[0].Verbs[0],
			Group: rules[0].APIGroups[0], Resource: resource, Subresource: sub}}}
	waitFor(t, 30*time.Second, "the RoleBinding of "+name+" to take effect", func() (bool, error) {
		r, err := as.AuthorizationV1().SelfSubjectAccessReviews().Create(c, review, metav1.CreateOptions{})
		return err == nil && r.Status.Allowed, err
	})
	return path
}

// kindlingAs runs kindling (until c ends) with the kubeconfig kc (and nothing of the tests' admin kubeconfig) and its
// caches in cache.
func kindlingAs(c context.Context, t *testing.T, kc, cache string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(c, Kindling(t), append(args, "--kubeconfig", kc)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "XDG_CACHE_HOME="+cache)
	return cmd
}

// deploymentState is what kindling may change in a Deployment and must leave as it was: its pod template,
// its annotations (kindling's hold and recorded original) and its replicas.
func deploymentState(t *testing.T, ns, deploy string) string {
	t.Helper()
	d, err := Clientset().AppsV1().Deployments(ns).Get(t.Context(), deploy, metav1.GetOptions{})
	must(t, err)
	annotations := maps.Clone(d.Annotations)
	// The Deployment controller's own bookkeeping, which a rollout and its undo advance.
	delete(annotations, "deployment.kubernetes.io/revision")
	b, err := json.Marshal(map[string]any{"template": d.Spec.Template, "annotations": annotations, "replicas": d.Spec.Replicas})
	must(t, err)
	return string(b)
}
