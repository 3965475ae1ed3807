package kube

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// CreationRefused returns why the cluster refuses to create the pods of a Deployment's newest template (its
// ReplicaSet's ReplicaFailure condition: a Pod Security level, a quota, an admission webhook), "" while it
// does not: a rollout that cannot create a single pod would otherwise leave kindling waiting in silence.
// (A StatefulSet or DaemonSet says it only in events; for them it is "".)
func (c *Client) CreationRefused(ctx context.Context, w *Workload) (string, error) {
	if w.Kind != Deployment {
		return "", nil
	}
	rs, err := c.newestReplicaSet(ctx, w)
	if err != nil || rs == nil {
		return "", err
	}
	for _, cond := range rs.Status.Conditions {
		if cond.Type == appsv1.ReplicaSetReplicaFailure && cond.Status == corev1.ConditionTrue {
			return cond.Message, nil
		}
	}
	return "", nil
}
