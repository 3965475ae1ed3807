package kube

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CreationRefused returns why the cluster refuses to create the pods of the Deployment's newest ReplicaSet
// (its ReplicaFailure condition: a Pod Security level, a quota, an admission webhook), "" while it does not.
// A rollout that cannot create a single pod would otherwise leave kindling waiting in silence.
func (c *Client) CreationRefused(ctx context.Context, d *appsv1.Deployment) (string, error) {
	sel, err := Selector(d)
	if err != nil {
		return "", err
	}
	list, err := c.Clientset.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", Explain(err, "list replicasets", d.Namespace)
	}
	var newest *appsv1.ReplicaSet
	bestRev := -1
	for i, rs := range list.Items {
		rev, _ := strconv.Atoi(rs.Annotations["deployment.kubernetes.io/revision"])
		if metav1.IsControlledBy(&rs, d) && rev > bestRev {
			newest, bestRev = &list.Items[i], rev
		}
	}
	if newest == nil {
		return "", nil
	}
	for _, cond := range newest.Status.Conditions {
		if cond.Type == appsv1.ReplicaSetReplicaFailure && cond.Status == corev1.ConditionTrue {
			return cond.Message, nil
		}
	}
	return "", nil
}
