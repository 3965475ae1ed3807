package kube

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/streaming/pkg/httpstream"
)

// rbacRefusal is an API server's Forbidden status as RBAC words it.
func rbacRefusal(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 403,
		Reason: metav1.StatusReasonForbidden, Message: msg}}
}

func TestExplainNamesTheRefusedVerbResourceAndFix(t *testing.T) {
	const exec = `pods "web-1" is forbidden: User "system:serviceaccount:dev:ci" cannot get resource "pods/exec" in API group "" in the namespace "dev"`
	const update = `deployments.apps "web" is forbidden: User "alice" cannot update resource "deployments" in API group "apps" in the namespace "dev"`
	const nodes = `nodes "n1" is forbidden: User "alice" cannot get resource "nodes" in API group "" at the cluster scope`
	tests := []struct {
		name   string
		err    error
		action string
		want   []string
	}{
		{"exec refused at the WebSocket upgrade, whose error hides the status",
			&httpstream.UpgradeFailureError{Cause: rbacRefusal(exec)}, "create pods/exec",
			[]string{`system:serviceaccount:dev:ci may not get pods/exec in namespace "dev"`, "kubectl auth can-i get pods --subresource=exec -n dev", RBACManifest}},
		{"status", rbacRefusal(update), "update deployments",
			[]string{`alice may not update deployments in namespace "dev"`, "kubectl auth can-i update deployments -n dev"}},
		{"status wrapped with %w", fmt.Errorf("wrap deployment dev/web: %w", rbacRefusal(update)), "",
			[]string{`alice may not update deployments in namespace "dev"`}},
		{"passed on as text", fmt.Errorf("hold deployment dev/web: %v", rbacRefusal(update)), "",
			[]string{`alice may not update deployments in namespace "dev"`}},
		{"cluster scope", rbacRefusal(nodes), "get nodes",
			[]string{"alice may not get nodes at the cluster scope", "kubectl auth can-i get nodes)"}},
		{"a Forbidden status that names no verb: the action tried",
			apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no")), "get deployments",
			[]string{`your account may not get deployments in namespace "dev"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			if tt.action == "" {
				got = ExplainDenied(tt.err)
			} else {
				got = Explain(tt.err, tt.action, "dev")
			}
			s := got.Error()
			if strings.Contains(s, "\n") || !strings.HasPrefix(s, "permission denied: ") {
				t.Fatalf("%q: want one line that starts with \"permission denied: \"", s)
			}
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("%q does not say %q", s, w)
				}
			}
		})
	}
}

func TestExplainLeavesOtherErrorsAlone(t *testing.T) {
	for _, err := range []error{
		errors.New("connection refused"),
		apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web"),
		&httpstream.UpgradeFailureError{Cause: errors.New("bad handshake")},
	} {
		if got := Explain(err, "get deployments", "dev"); got != err {
			t.Errorf("Explain(%v) = %v, want it unchanged", err, got)
		}
		if got := ExplainDenied(err); got != err {
			t.Errorf("ExplainDenied(%v) = %v, want it unchanged", err, got)
		}
	}
	// A Forbidden status without RBAC's words and without an action: nothing to name, so unchanged.
	err := apierrors.NewForbidden(schema.GroupResource{Group: "", Resource: "pods"}, "web-1", errors.New("violates PodSecurity"))
	if got := ExplainDenied(err); got != err {
		t.Errorf("ExplainDenied(%v) = %v, want it unchanged", err, got)
	}
	if Explain(nil, "get deployments", "dev") != nil || ExplainDenied(nil) != nil {
		t.Error("nil is not an error")
	}
}
