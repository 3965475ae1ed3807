package kube

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Explain turns an API error into one actionable line. action is the RBAC verb and resource that was
// attempted, e.g. "get deployments".
func Explain(err error, action, namespace string) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsForbidden(err):
		return fmt.Errorf("permission denied: your account may not %s in namespace %q; ask for an RBAC role that allows it (kubectl auth can-i %s -n %s)", action, namespace, action, namespace)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster rejected your credentials; log in again or check --kubeconfig/--context")
	}
	return err
}
