package kube

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodWatch keeps the set of pods behind a workload current through an informer.
type PodWatch struct {
	client    *Client
	workload  *Workload
	container string
	selector  labels.Selector
	lister    listersv1.PodLister
	changed   chan struct{}
	// refused is the API server's refusal to list or watch the pods, once it came.
	refused atomic.Pointer[error]
	// events counts the pod events so far. The current revision is read again only after one: a new
	// revision's rollout shows as pods that change, so a save or a second look at the same pods costs no
	// API request (a round trip to a remote cluster).
	events   atomic.Uint64
	revMu    sync.Mutex
	revision *revisionAt // nil: not read yet
}

// revisionAt is the workload's current revision (its pod label and value), read when events was at.
type revisionAt struct {
	label, value string
	at           uint64
}

// WatchPods starts watching the workload's pods (through its own selector) until ctx ends.
func (c *Client) WatchPods(ctx context.Context, workload *Workload, container string) (*PodWatch, error) {
	sel, err := workload.Selector()
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(c.Clientset, 0,
		informers.WithNamespace(workload.Meta().Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }))
	informer := factory.Core().V1().Pods()
	w := &PodWatch{client: c, workload: workload, container: container, selector: sel,
		lister: informer.Lister(), changed: make(chan struct{}, 1)}
	notify := func(any) {
		w.events.Add(1)
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	handler, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, n any) { notify(n) },
		DeleteFunc: notify,
	})
	if err != nil {
		return nil, err
	}
	// A refused list or watch is retried by the reflector forever, in silence: kindling would hang
	// waiting for the first list, or go on blind. It is an error the user must see (and fix) instead.
	syncCtx, stopSync := context.WithCancel(ctx)
	defer stopSync()
	if err := informer.Informer().SetWatchErrorHandler(func(r *cache.Reflector, err error) {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			w.refused.Store(&err)
			stopSync()
			notify(nil) // a session already running learns it from Runnable
			return
		}
		cache.DefaultWatchErrorHandler(ctx, r, err)
	}); err != nil {
		return nil, err
	}
	// The current revision is read while the pods are listed: the two reads go together.
	revision := make(chan *revisionAt, 1)
	go func() {
		label, value, err := c.CurrentRevision(syncCtx, workload)
		if err != nil {
			revision <- nil // Runnable reads it again, and says why it cannot
			return
		}
		revision <- &revisionAt{label: label, value: value}
	}()
	factory.Start(ctx.Done())
	defer func() {
		if r := <-revision; r != nil {
			r.at = w.events.Load()
			w.revision = r
		}
	}()
	for typ, ok := range factory.WaitForCacheSync(syncCtx.Done()) {
		if err := w.refusal(); err != nil {
			return nil, err
		}
		if !ok {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("watching %v in namespace %q failed; check that you may list and watch pods there", typ, workload.Meta().Namespace)
		}
	}
	// The listed pods reach the handler after the cache has them: the revision read with the list goes
	// with the events they make, not after them.
	cache.WaitForCacheSync(syncCtx.Done(), handler.HasSynced)
	return w, nil
}

// refusal is the API server's refusal to list or watch the pods, explained, or nil.
func (w *PodWatch) refusal() error {
	if err := w.refused.Load(); err != nil {
		return Explain(*err, "watch pods", w.workload.Meta().Namespace)
	}
	return nil
}

// Changed receives a value after the pod set may have changed.
func (w *PodWatch) Changed() <-chan struct{} { return w.changed }

// Pods returns all pods of the workload, sorted by name.
func (w *PodWatch) Pods() []corev1.Pod {
	list, _ := w.lister.List(w.selector)
	pods := make([]corev1.Pod, 0, len(list))
	for _, p := range list {
		pods = append(pods, *p)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods
}

// Runnable returns the pods of the current revision whose container is running.
func (w *PodWatch) Runnable(ctx context.Context) ([]corev1.Pod, error) {
	if err := w.refusal(); err != nil {
		return nil, err
	}
	label, revision, err := w.currentRevision(ctx)
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range w.Pods() {
		// Pods of an older revision are on their way out (a rolling StatefulSet replaces them one by
		// one, from the highest ordinal): the new ones get the sync as each appears.
		if revision != "" && p.Labels[label] != revision {
			continue
		}
		if Runnable(&p, w.container) {
			out = append(out, p)
		}
	}
	return out, nil
}

// currentRevision is the workload's current revision: as last read when no pod changed since, else read
// again.
func (w *PodWatch) currentRevision(ctx context.Context) (label, value string, err error) {
	at := w.events.Load()
	w.revMu.Lock()
	r := w.revision
	w.revMu.Unlock()
	if r != nil && r.at == at {
		return r.label, r.value, nil
	}
	if label, value, err = w.client.CurrentRevision(ctx, w.workload); err != nil {
		return "", "", err
	}
	w.revMu.Lock()
	w.revision = &revisionAt{label: label, value: value, at: at}
	w.revMu.Unlock()
	return label, value, nil
}

// Workload is the watched workload.
func (w *PodWatch) Workload() Ref { return w.workload.Ref }
