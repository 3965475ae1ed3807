package restart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/runtime"
)

const (
	// AnnotationSupervisor, on the pod template, carries the supervisor script; a downwardAPI volume
	// projects it into the container as a file.
	AnnotationSupervisor = "kindling.dev/supervisor"
	// AnnotationSpare, on the pod template, carries the spare script for the app's interpreter, projected
	// beside the supervisor (see runtime.Spare).
	AnnotationSpare = "kindling.dev/spare"

	// AnnotationOriginal, on the Deployment, is the pod template as it was before kindling wrapped it
	// (JSON). It stays until Restore, so a kindling that was killed leaves what the next run needs to
	// undo the wrap.
	AnnotationOriginal = "kindling.dev/original-template"
	// AnnotationContainer, on the Deployment, names the wrapped container.
	AnnotationContainer = "kindling.dev/wrapped-container"
	// AnnotationSession, on the Deployment, says which kindling session wrapped it last.
	AnnotationSession = "kindling.dev/session"

	scriptVolume = "kindling-supervisor"
	stateVolume  = "kindling-state"
)

// Wrap makes the container opts.Container of tpl run its app under the restart supervisor: it adds the
// script annotation, a downwardAPI volume that projects it as an executable file, an emptyDir for the
// supervisor's state, their mounts, and the command
//
//	[SupervisorPath, "run", "--hold", S, "--state-dir", StateDir, "--", argv...]
//
// with args cleared. argv is the container's own command and args when the template sets a command
// (kept verbatim, so the kubelet expands $(VAR) in them and keeps $$ escapes exactly as before, since it
// treats command and args alike). Without a command the image's entrypoint runs, which the template
// does not show: argv is then opts.ProcArgv, the app's argv as the process table showed it, with every $
// doubled so that the kubelet does not expand it a second time.
//
// With opts.Toolbox the supervisor runs on the toolbox's shell (see addToolbox), for an image without one:
//
//	[ToolboxDir/sh, SupervisorPath, "run", "--tools", ToolboxDir, "--hold", ...]
//
// and with opts.Seed an emptyDir filled with the image's copy replaces that directory (see addSeed).
//
// opts.Hold keeps the app from starting until the first restart request (the initial sync has landed) or
// until it passes; zero starts it at once. Wrapping a wrapped container again keeps its argv and only
// refreshes the rest, so it never wraps twice.
func Wrap(tpl *corev1.PodTemplateSpec, opts WrapOptions) error {
	c, err := findContainer(&tpl.Spec, opts.Container)
	if err != nil {
		return err
	}
	argv, err := appArgv(c, opts.ProcArgv)
	if err != nil {
		return err
	}
	if tpl.Annotations == nil {
		tpl.Annotations = map[string]string{}
	}
	tpl.Annotations[AnnotationSupervisor] = supervisorScript
	files := []corev1.DownwardAPIVolumeFile{annotationFile(runtime.SupervisorMarker, AnnotationSupervisor)}
	run := supervisorRun(opts.Hold)
	delete(tpl.Annotations, AnnotationSpare)
	if name, at, ok := runtime.Spare(argv); ok {
		tpl.Annotations[AnnotationSpare] = spareScripts[name]
		files = append(files, annotationFile(name, AnnotationSpare))
		run = slices.Insert(run, len(run)-1, "--spare", supervisorDir+"/"+name, "--spare-at", strconv.Itoa(at))
	}
	tpl.Spec.Volumes = setVolume(tpl.Spec.Volumes, corev1.Volume{Name: scriptVolume, VolumeSource: corev1.VolumeSource{
		DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: files},
	}})
	tpl.Spec.Volumes = setVolume(tpl.Spec.Volumes, corev1.Volume{Name: stateVolume, VolumeSource: corev1.VolumeSource{
		EmptyDir: &corev1.EmptyDirVolumeSource{},
	}})
	c.VolumeMounts = setMount(c.VolumeMounts, corev1.VolumeMount{Name: scriptVolume, MountPath: supervisorDir, ReadOnly: true})
	c.VolumeMounts = setMount(c.VolumeMounts, corev1.VolumeMount{Name: stateVolume, MountPath: StateDir})
	removeAdditions(&tpl.Spec, c)
	if opts.Toolbox != "" {
		addToolbox(&tpl.Spec, c, opts.Toolbox)
		run = slices.Concat([]string{ToolboxDir + "/sh"}, run[:2], []string{"--tools", ToolboxDir}, run[2:])
	}
	if opts.Seed != "" {
		addSeed(&tpl.Spec, c, opts.Seed, opts.Toolbox != "")
	}
	c.Command = append(run, argv...)
	c.Args = nil
	return nil
}

// annotationFile projects a pod-template annotation as an executable file of the supervisor's volume.
func annotationFile(name, annotation string) corev1.DownwardAPIVolumeFile {
	mode := int32(0o755)
	return corev1.DownwardAPIVolumeFile{
		Path:     name,
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + annotation + "']"},
		Mode:     &mode,
	}
}

// Unwrap undoes Wrap on the named container of tpl: it removes what Wrap added and gives the container
// the command and args it has in original, the template before the wrap. Everything else in tpl stays,
// so changes someone made to the Deployment meanwhile survive; without such changes the result equals
// original. A container whose command is no longer the supervisor's keeps it.
func Unwrap(tpl *corev1.PodTemplateSpec, container string, original *corev1.PodTemplateSpec) {
	delete(tpl.Annotations, AnnotationSupervisor)
	delete(tpl.Annotations, AnnotationSpare)
	if len(tpl.Annotations) == 0 {
		tpl.Annotations = nil
	}
	tpl.Spec.Volumes = slices.DeleteFunc(tpl.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == scriptVolume || v.Name == stateVolume
	})
	c, err := findContainer(&tpl.Spec, container)
	if err != nil {
		c = nil
	}
	removeAdditions(&tpl.Spec, c)
	if len(tpl.Spec.Volumes) == 0 {
		tpl.Spec.Volumes = nil
	}
	if c == nil {
		return
	}
	c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == scriptVolume || m.Name == stateVolume
	})
	if len(c.VolumeMounts) == 0 {
		c.VolumeMounts = nil
	}
	tail, wrapped := supervisedArgv(c.Command)
	if !wrapped {
		return
	}
	if oc, err := findContainer(&original.Spec, container); err == nil {
		c.Command, c.Args = slices.Clone(oc.Command), slices.Clone(oc.Args)
	} else {
		c.Command, c.Args = tail, nil
	}
}

// supervisorRun is the head of a wrapped command, up to the "--" before the app's argv.
func supervisorRun(hold time.Duration) []string {
	return []string{SupervisorPath, "run", "--hold", strconv.Itoa(int(hold.Round(time.Second) / time.Second)),
		"--state-dir", StateDir, "--"}
}

// supervisedArgv returns the app's argv from a wrapped command: what follows the first "--".
func supervisedArgv(command []string) ([]string, bool) {
	if len(command) > 1 && command[0] == ToolboxDir+"/sh" {
		command = command[1:]
	}
	if len(command) == 0 || command[0] != SupervisorPath {
		return nil, false
	}
	i := slices.Index(command, "--")
	if i < 0 {
		return nil, false
	}
	return slices.Clone(command[i+1:]), true
}

// appArgv is the argv Wrap runs, in Kubernetes syntax (see Wrap).
func appArgv(c *corev1.Container, procArgv []string) ([]string, error) {
	if argv, ok := supervisedArgv(c.Command); ok {
		return argv, nil
	}
	if len(c.Command) > 0 {
		return slices.Concat(c.Command, c.Args), nil
	}
	// A pod that still runs under the supervisor (one not yet replaced after a restore) shows it in the
	// process table: its app is what follows the "--".
	if len(procArgv) > 2 && (path.Base(procArgv[0]) == runtime.SupervisorMarker || path.Base(procArgv[1]) == runtime.SupervisorMarker) {
		if i := slices.Index(procArgv, "--"); i >= 0 {
			procArgv = procArgv[i+1:]
		}
	}
	if len(procArgv) == 0 {
		return nil, fmt.Errorf("container %q sets no command, so its image's entrypoint runs: pass the argv of its running process (from /proc/1/cmdline) to wrap it", c.Name)
	}
	argv := make([]string, len(procArgv))
	for i, a := range procArgv {
		argv[i] = strings.ReplaceAll(a, "$", "$$")
	}
	return argv, nil
}

func findContainer(spec *corev1.PodSpec, name string) (*corev1.Container, error) {
	names := make([]string, 0, len(spec.Containers))
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i], nil
		}
		names = append(names, spec.Containers[i].Name)
	}
	return nil, fmt.Errorf("no container %q in the pod template; pass --container with one of: %s", name, strings.Join(names, ", "))
}

// setVolume replaces the volume of the same name, or appends v.
func setVolume(vs []corev1.Volume, v corev1.Volume) []corev1.Volume {
	if i := slices.IndexFunc(vs, func(x corev1.Volume) bool { return x.Name == v.Name }); i >= 0 {
		vs[i] = v
		return vs
	}
	return append(vs, v)
}

// setMount replaces the mount of the same volume, or appends m.
func setMount(ms []corev1.VolumeMount, m corev1.VolumeMount) []corev1.VolumeMount {
	if i := slices.IndexFunc(ms, func(x corev1.VolumeMount) bool { return x.Name == m.Name }); i >= 0 {
		ms[i] = m
		return ms
	}
	return append(ms, m)
}

// WrapOptions say what WrapWorkload wraps and how.
type WrapOptions struct {
	Container string
	// ProcArgv is the app's argv from the process table, needed when the container sets no command.
	ProcArgv []string
	Hold     time.Duration
	// Session names this kindling run, as the identity it holds the workload under (see Acquire); it
	// is recorded on the workload, and a workload that another live kindling holds is not wrapped.
	Session string
	// Toolbox is the helper image whose BusyBox a container without a shell runs the supervisor and
	// kindling's commands with (see addToolbox); "" when the container has its own shell.
	Toolbox string
	// Seed is the directory the container's user cannot write (--dest): an emptyDir filled with the
	// image's copy of it takes its place (see addSeed). "" leaves it.
	Seed string
}

// WrapWorkload wraps the workload's container (see Wrap) and records the template as it was before
// in annotations on the workload, so that RestoreWorkload can undo it, even from a later run. A
// workload that is already wrapped is not wrapped twice: its recorded original stays and its
// template is only updated when the script or the hold changed. It returns the workload as stored.
//
// It does not wait for the rollout the change starts: the new pods run the supervisor, which may hold
// the app (and keep the pods unready) until their first restart request, so the caller syncs into
// them and sends that request while the rollout is still in progress.
func WrapWorkload(ctx context.Context, client kubernetes.Interface, namespace string, ref kube.Ref, opts WrapOptions) (*kube.Workload, error) {
	var stored *kube.Workload
	err := retryOnConflict(func() error {
		w, err := kube.GetWorkload(ctx, client, namespace, ref)
		if err != nil {
			return err
		}
		d := w.Meta()
		// Only the holder changes a workload a live kindling holds (see Acquire).
		if h := HolderOf(d, time.Now()); h.Live() && h.Identity != opts.Session {
			return &HeldError{Namespace: namespace, Workload: ref, Holder: h}
		}
		before := w.DeepCopy()
		original, wrappedContainer, err := recordedOriginal(d)
		if err != nil {
			return err
		}
		if original == nil {
			raw, err := json.Marshal(w.Template())
			if err != nil {
				return err
			}
			if d.Annotations == nil {
				d.Annotations = map[string]string{}
			}
			d.Annotations[AnnotationOriginal] = string(raw)
		} else if wrappedContainer != opts.Container {
			Unwrap(w.Template(), wrappedContainer, original)
		}
		if err := Wrap(w.Template(), opts); err != nil {
			return err // named by the caller's message below
		}
		d.Annotations[AnnotationContainer] = opts.Container
		d.Annotations[AnnotationSession] = opts.Session
		if equality.Semantic.DeepEqual(before.Object(), w.Object()) {
			stored = w
			return nil
		}
		stored, err = w.Update(ctx, client)
		return err
	})
	var held *HeldError
	if errors.As(err, &held) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("wrap %s in namespace %s: %w", ref, namespace, err)
	}
	return stored, nil
}

// RestoreOptions say on whose behalf RestoreWorkloadAs undoes a wrap (see mayUndo).
type RestoreOptions struct {
	// Identity is the caller's hold identity (see Acquire); "" for a caller that holds nothing, such
	// as the repair before a sync without --restart.
	Identity string
	// Kept also undoes a workload that a kindling left wrapped on purpose with --keep, as kindling
	// restore does (a repair leaves it).
	Kept bool
	// Force undoes the wrap whoever holds the workload: the user says its holder is gone.
	Force bool
	// Clock judges the holder's heartbeat; nil is the wall clock.
	Clock clock.Clock
}

// RestoreWorkload is RestoreWorkloadAs for a caller that holds nothing: the repair of a workload that
// a killed kindling left wrapped.
func RestoreWorkload(ctx context.Context, client kubernetes.Interface, namespace string, ref kube.Ref) (bool, error) {
	return RestoreWorkloadAs(ctx, client, namespace, ref, RestoreOptions{})
}

// RestoreWorkloadAs undoes WrapWorkload from the annotations alone: it unwraps the container (see
// Unwrap) and removes the annotations, the hold's included, so that a restore after a killed session
// leaves no trace. When the rule of mayUndo does not let the caller undo it, it changes nothing and
// returns a *HeldError. It reports whether the workload was wrapped; calling it again does nothing.
func RestoreWorkloadAs(ctx context.Context, client kubernetes.Interface, namespace string, ref kube.Ref, opts RestoreOptions) (bool, error) {
	now := time.Now
	if opts.Clock != nil {
		now = opts.Clock.Now
	}
	restored := false
	err := retryOnConflict(func() error {
		w, err := kube.GetWorkload(ctx, client, namespace, ref)
		if err != nil {
			return err
		}
		d := w.Meta()
		if err := mayUndo(w, opts, now()); err != nil {
			return err
		}
		original, container, err := recordedOriginal(d)
		if err != nil {
			return err
		}
		if original != nil {
			Unwrap(w.Template(), container, original)
			for _, k := range []string{AnnotationOriginal, AnnotationContainer, AnnotationSession} {
				delete(d.Annotations, k)
			}
		}
		if !removeHold(d) && original == nil {
			return nil
		}
		if _, err := w.Update(ctx, client); err != nil {
			return err
		}
		restored = original != nil
		return nil
	})
	var held *HeldError
	if errors.As(err, &held) {
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("restore %s in namespace %s: %w", ref, namespace, err)
	}
	return restored, nil
}

// mayUndo is the rule for who may unwrap a workload and remove its hold: its holder; anyone when no
// live kindling holds it (none does, or the holder's heartbeat is older than StaleAfter: it died); a
// workload kept with --keep only kindling restore (opts.Kept); and anyone with opts.Force. It returns
// a *HeldError naming the holder otherwise.
func mayUndo(w *kube.Workload, opts RestoreOptions, now time.Time) error {
	h := HolderOf(w.Meta(), now)
	if opts.Force || h.Identity == "" || h.Identity == opts.Identity || (h.Kept && opts.Kept) || (!h.Kept && !h.Live()) {
		return nil
	}
	return &HeldError{Namespace: w.Meta().Namespace, Workload: w.Ref, Holder: h}
}

// WrappedSession tells whether the workload of metadata d is wrapped and by which session, e.g. to say
// that a workload left wrapped by a killed kindling is being repaired.
func WrappedSession(d *metav1.ObjectMeta) (session string, wrapped bool) {
	if _, ok := d.Annotations[AnnotationOriginal]; !ok {
		return "", false
	}
	return d.Annotations[AnnotationSession], true
}

// recordedOriginal reads the template and container WrapWorkload recorded; nil when d is not wrapped.
func recordedOriginal(d *metav1.ObjectMeta) (*corev1.PodTemplateSpec, string, error) {
	raw, ok := d.Annotations[AnnotationOriginal]
	if !ok {
		return nil, "", nil
	}
	var original corev1.PodTemplateSpec
	if err := json.Unmarshal([]byte(raw), &original); err != nil {
		return nil, "", fmt.Errorf("annotation %s is not a pod template (%v); remove it and restore the template by hand", AnnotationOriginal, err)
	}
	return &original, d.Annotations[AnnotationContainer], nil
}

// retryOnConflict runs fn again while it fails with a conflict, like retry.RetryOnConflict, whose error
// it keeps: client-go's returns nil when fn fails with a cancelled context (it takes the context's error
// for its own give-up and reports the last conflict, of which there was none), and a caller that went on
// as if fn had succeeded would use what fn never set.
func retryOnConflict(fn func() error) error {
	var last error
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		last = fn()
		return last
	})
	if err == nil {
		return last
	}
	return err
}
