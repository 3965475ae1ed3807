package kube

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/streaming/pkg/httpstream"
)

// RBACManifest is where kindling's least-privilege Roles are, named in every permission error.
const RBACManifest = "deploy/rbac.yaml"

// Explain turns an API error into one actionable line. action is the RBAC verb and resource that was
// attempted, e.g. "get deployments"; when the API server's refusal names another (a WebSocket exec is
// authorized as "get pods/exec", not "create"), the refused one is said.
func Explain(err error, action, namespace string) error {
	if err == nil {
		return nil
	}
	if d, ok := deniedBy(err); ok {
		if d.verb == "" {
			d.verb, d.resource, _ = strings.Cut(action, " ")
			d.namespace = namespace
		}
		return d
	}
	if apierrors.IsUnauthorized(cause(err)) {
		return fmt.Errorf("the cluster rejected your credentials; log in again or check --kubeconfig/--context")
	}
	return err
}

// ExplainDenied returns Explain's one line when err, anywhere in its chain or in its text, is an API
// server's refusal for a lack of permission, and err itself otherwise. It is for errors that reach the
// user without passing Explain: the refusal names the verb and the resource itself.
func ExplainDenied(err error) error {
	if d, ok := deniedBy(err); ok && d.verb != "" {
		return d
	}
	return err
}

// DeniedError is a refusal for a lack of permission, said as one line with the fix.
type DeniedError struct {
	user, verb, resource, namespace string
}

// Fatal says that no retry can fix a refusal: the user must be given the permission (see engine.Fatal).
func (d *DeniedError) Fatal() bool { return true }

func (d *DeniedError) Error() string {
	who := "your account"
	if d.user != "" {
		who = d.user
	}
	where, canI := "at the cluster scope", ""
	if d.namespace != "" {
		where, canI = fmt.Sprintf("in namespace %q", d.namespace), " -n "+d.namespace
	}
	// kubectl auth can-i reads "pods/exec" as the pod named exec: a subresource is a flag of its own.
	resource, sub, _ := strings.Cut(d.resource, "/")
	if sub != "" {
		canI = " --subresource=" + sub + canI
	}
	return fmt.Sprintf("permission denied: %s may not %s %s %s; ask for an RBAC role that allows it (kindling's least-privilege roles: %s; check with kubectl auth can-i %s %s%s)",
		who, d.verb, d.resource, where, RBACManifest, d.verb, resource, canI)
}

// forbidden is the API server's message for an RBAC refusal, e.g. `pods "web-1" is forbidden: User
// "alice" cannot get resource "pods/exec" in API group "" in the namespace "dev"`.
var forbidden = regexp.MustCompile(`is forbidden: User "([^"]*)" cannot (\S+) resource "([^"]+)"(?: in API group "[^"]*")?(?: in the namespace "([^"]*)")?`)

// deniedBy finds a refusal in err: an API status of reason Forbidden (also behind a failed stream
// upgrade, whose error does not unwrap to it), or failing that the API server's message in err's text
// (an error passed on with %v). The DeniedError's verb is "" when the refusal does not say it.
func deniedBy(err error) (*DeniedError, bool) {
	if err == nil {
		return nil, false
	}
	var d *DeniedError
	if errors.As(err, &d) {
		return d, true
	}
	c := cause(err)
	if m := forbidden.FindStringSubmatch(c.Error()); m != nil {
		return &DeniedError{user: m[1], verb: m[2], resource: m[3], namespace: m[4]}, true
	}
	if apierrors.IsForbidden(c) {
		return &DeniedError{}, true
	}
	if m := forbidden.FindStringSubmatch(err.Error()); m != nil {
		return &DeniedError{user: m[1], verb: m[2], resource: m[3], namespace: m[4]}, true
	}
	return nil, false
}

// cause is the error behind a failed stream upgrade (which has no Unwrap), else err.
func cause(err error) error {
	var up *httpstream.UpgradeFailureError
	if errors.As(err, &up) && up.Cause != nil {
		return up.Cause
	}
	return err
}
