package kube

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// Kind is a kind of workload kindling syncs into, as kubectl names it.
type Kind string

const (
	Deployment  Kind = "deployment"
	StatefulSet Kind = "statefulset"
	DaemonSet   Kind = "daemonset"
)

// plural is the kind's RBAC resource, e.g. "statefulsets".
func (k Kind) plural() string { return string(k) + "s" }

// kinds are kubectl's names for each kind: singular, plural and short.
var kinds = map[string]Kind{
	"deployment": Deployment, "deployments": Deployment, "deploy": Deployment,
	"statefulset": StatefulSet, "statefulsets": StatefulSet, "sts": StatefulSet,
	"daemonset": DaemonSet, "daemonsets": DaemonSet, "ds": DaemonSet,
}

// Ref names a workload of the session's namespace, as -d does: kubectl's TYPE/NAME, or a bare NAME for
// a Deployment.
type Ref struct {
	Kind Kind
	Name string
}

// ParseRef reads -d's value: NAME (a Deployment), or TYPE/NAME with kubectl's names of the three kinds
// (deployment, deploy, statefulset, sts, daemonset, ds, their plurals, and TYPE.apps).
func ParseRef(s string) (Ref, error) {
	typ, name, typed := strings.Cut(s, "/")
	if !typed {
		typ, name = string(Deployment), s
	}
	kind, ok := kinds[strings.TrimSuffix(strings.ToLower(typ), ".apps")]
	switch {
	case !ok:
		return Ref{}, fmt.Errorf("%q: kindling syncs into a deployment, statefulset or daemonset, not a %s; give NAME (a Deployment) or TYPE/NAME, e.g. statefulset/%s", s, typ, name)
	case name == "" || strings.Contains(name, "/"):
		return Ref{}, fmt.Errorf("%q is not a workload name; give NAME (a Deployment) or TYPE/NAME, e.g. statefulset/db", s)
	}
	return Ref{Kind: kind, Name: name}, nil
}

// String is the workload as kubectl writes it, e.g. "statefulset/db".
func (r Ref) String() string { return string(r.Kind) + "/" + r.Name }

// Arg is the shortest -d value that names the workload: its name for a Deployment (as before kindling
// knew other kinds, so printed commands and JSON events stay as they were), else TYPE/NAME.
func (r Ref) Arg() string {
	if r.Kind == Deployment {
		return r.Name
	}
	return r.String()
}

// Workload is a Deployment, StatefulSet or DaemonSet as read from the API server: the three differ in
// type, not in what kindling needs of them (a pod template, a selector, annotations, a rollout).
type Workload struct {
	Ref
	obj runtime.Object // *appsv1.Deployment, *appsv1.StatefulSet or *appsv1.DaemonSet
}

// NewWorkload wraps a typed object (*appsv1.Deployment, *appsv1.StatefulSet or *appsv1.DaemonSet).
func NewWorkload(obj runtime.Object) *Workload {
	w := &Workload{obj: obj}
	switch obj.(type) {
	case *appsv1.Deployment:
		w.Kind = Deployment
	case *appsv1.StatefulSet:
		w.Kind = StatefulSet
	case *appsv1.DaemonSet:
		w.Kind = DaemonSet
	default:
		panic(fmt.Sprintf("kube.NewWorkload: %T is no workload", obj))
	}
	w.Name = w.Meta().Name
	return w
}

// fields are what kindling uses of a workload, found at the same places in the three types.
type fields struct {
	meta     *metav1.ObjectMeta
	template *corev1.PodTemplateSpec
	selector *metav1.LabelSelector
	observed int64
	onDelete bool
	replicas *int32
}

func (w *Workload) fields() fields {
	switch o := w.obj.(type) {
	case *appsv1.StatefulSet:
		return fields{&o.ObjectMeta, &o.Spec.Template, o.Spec.Selector, o.Status.ObservedGeneration,
			o.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType, o.Spec.Replicas}
	case *appsv1.DaemonSet:
		// A DaemonSet has a pod per eligible node, which its status counts.
		return fields{&o.ObjectMeta, &o.Spec.Template, o.Spec.Selector, o.Status.ObservedGeneration,
			o.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType, &o.Status.DesiredNumberScheduled}
	}
	o := w.obj.(*appsv1.Deployment)
	return fields{&o.ObjectMeta, &o.Spec.Template, o.Spec.Selector, o.Status.ObservedGeneration, false, o.Spec.Replicas}
}

// Object is the typed object, to compare or store.
func (w *Workload) Object() runtime.Object { return w.obj }

// Meta is the object's metadata (its annotations carry kindling's wrap and hold).
func (w *Workload) Meta() *metav1.ObjectMeta { return w.fields().meta }

// Template is the workload's pod template, which its controller rolls out when it changes.
func (w *Workload) Template() *corev1.PodTemplateSpec { return w.fields().template }

// Replicas is how many pods the workload runs when its rollout is done.
func (w *Workload) Replicas() int {
	if n := w.fields().replicas; n != nil {
		return int(*n)
	}
	return 1
}

// Observed tells whether the controller has seen the workload's latest change.
func (w *Workload) Observed() bool { return w.fields().observed >= w.Meta().Generation }

// DeepCopy copies the whole object.
func (w *Workload) DeepCopy() *Workload {
	return &Workload{Ref: w.Ref, obj: w.obj.DeepCopyObject()}
}

// Selector is the workload's own pod selector.
func (w *Workload) Selector() (labels.Selector, error) {
	s, err := metav1.LabelSelectorAsSelector(w.fields().selector)
	if err != nil {
		return nil, fmt.Errorf("%s has an invalid selector: %v", w.Ref, err)
	}
	return s, nil
}

// RollsOut returns an error when a changed pod template never reaches the pods by itself
// (updateStrategy OnDelete): a wrapped template would wait for pods deleted by hand.
func (w *Workload) RollsOut() error {
	if !w.fields().onDelete {
		return nil
	}
	return fmt.Errorf("%s has updateStrategy OnDelete, so the restart supervisor kindling installs in its pod template would never reach its pods; sync without --restart, or switch it to rolling updates (kubectl patch %s %s -n %s -p '{\"spec\":{\"updateStrategy\":{\"type\":\"RollingUpdate\"}}}')",
		w.Ref, w.Kind, w.Name, w.Meta().Namespace)
}

// resource is one kind's typed client, with the object types erased.
type resource struct {
	get    func(ctx context.Context, name string) (runtime.Object, error)
	list   func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)
	update func(ctx context.Context, obj runtime.Object) (runtime.Object, error)
}

type typedClient[T, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

func erase[T, L runtime.Object](c typedClient[T, L]) resource {
	return resource{
		get: func(ctx context.Context, name string) (runtime.Object, error) {
			return c.Get(ctx, name, metav1.GetOptions{})
		},
		list: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) { return c.List(ctx, opts) },
		update: func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
			return c.Update(ctx, obj.(T), metav1.UpdateOptions{})
		},
	}
}

func resourceOf(cs kubernetes.Interface, namespace string, kind Kind) resource {
	switch kind {
	case StatefulSet:
		return erase(cs.AppsV1().StatefulSets(namespace))
	case DaemonSet:
		return erase(cs.AppsV1().DaemonSets(namespace))
	}
	return erase(cs.AppsV1().Deployments(namespace))
}

// GetWorkload reads the workload as stored, with the API server's error as it is (see Client.GetWorkload
// for the one a person reads).
func GetWorkload(ctx context.Context, cs kubernetes.Interface, namespace string, ref Ref) (*Workload, error) {
	obj, err := resourceOf(cs, namespace, ref.Kind).get(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	return NewWorkload(obj), nil
}

// Update writes the workload at the resourceVersion it was read at (a change made meanwhile is a
// conflict) and returns it as stored.
func (w *Workload) Update(ctx context.Context, cs kubernetes.Interface) (*Workload, error) {
	obj, err := resourceOf(cs, w.Meta().Namespace, w.Kind).update(ctx, w.obj)
	if err != nil {
		return nil, err
	}
	return NewWorkload(obj), nil
}

// names lists the names of the workloads of a kind in the session's namespace.
func (c *Client) names(ctx context.Context, kind Kind) ([]string, error) {
	list, err := resourceOf(c.Clientset, c.Namespace, kind).list(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		if m, err := meta.Accessor(it); err == nil {
			names = append(names, m.GetName())
		}
	}
	return names, nil
}

// Namespace is the workload's namespace.
func (w *Workload) Namespace() string { return w.Meta().Namespace }
