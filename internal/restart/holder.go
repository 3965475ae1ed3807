package restart

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/kube"
)

// A kindling session holds the workload it works on, so that no other kindling undoes its changes:
// two annotations on the workload name the holder and the time of its last heartbeat. Every change to
// them is a read and an update of the workload at the resourceVersion read, so two sessions racing
// for a free workload cannot both win: the API server turns down the later update with a conflict,
// and the loser, reading again, finds the winner.
const (
	// AnnotationHolder, on the workload, is the identity of the kindling that holds it (see
	// NewIdentity).
	AnnotationHolder = "kindling.dev/holder"
	// AnnotationHeartbeat, on the workload, is the holder's last heartbeat (RFC 3339), or "kept" when
	// a kindling that exited with --keep left the workload wrapped on purpose.
	AnnotationHeartbeat = "kindling.dev/heartbeat"

	keptHeartbeat = "kept"
)

const (
	// HeartbeatInterval is how often a holder renews its heartbeat: one small update of the workload
	// per session every 10 s is nothing to an API server, and a dead holder is noticed within a minute.
	HeartbeatInterval = 10 * time.Second
	// StaleAfter is the age from which a heartbeat is a dead kindling's. Three missed renewals (a slow
	// API server, a short network outage) are 30 s; the other 15 s absorb clocks that disagree, since
	// the heartbeat is written with the holder's clock and judged with another machine's.
	StaleAfter = 45 * time.Second
)

// NewIdentity names this kindling process as a holder: its host and PID, which the user recognises,
// and a random suffix, because PIDs repeat across machines, containers and restarts and two processes
// must never take each other for the holder.
func NewIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var id [4]byte
	rand.Read(id[:]) // never fails (see crypto/rand.Read)
	return fmt.Sprintf("%s pid %d #%x", host, os.Getpid(), id)
}

// exitedHere tells whether identity names a process of this machine that no longer runs: a kindling
// killed here is known dead at once, without waiting for its heartbeat to go stale. (A PID reused since
// looks alive; the heartbeat's age then decides.)
func exitedHere(identity string) bool {
	var host string
	var pid int
	if _, err := fmt.Sscanf(identity, "%s pid %d", &host, &pid); err != nil || pid <= 0 {
		return false
	}
	if here, err := os.Hostname(); err != nil || here != host {
		return false
	}
	return processGone(pid)
}

// Holder is the kindling that holds a workload, as the workload's annotations say.
type Holder struct {
	// Identity is the holder's (see NewIdentity); "" when no kindling holds the workload.
	Identity string
	// Age is the time since the holder's last heartbeat; a heartbeat that is missing or unreadable is
	// as old as can be.
	Age time.Duration
	// Kept is a workload left wrapped on purpose by a kindling that exited with --keep: no process
	// renews it, and only kindling restore undoes it.
	Kept bool
}

// HolderOf reads who holds the workload of metadata d at the time now.
func HolderOf(d *metav1.ObjectMeta, now time.Time) Holder {
	id, ok := d.Annotations[AnnotationHolder]
	if !ok {
		return Holder{}
	}
	beat := d.Annotations[AnnotationHeartbeat]
	if beat == keptHeartbeat {
		return Holder{Identity: id, Kept: true}
	}
	at, err := time.Parse(time.RFC3339, beat)
	if err != nil || exitedHere(id) {
		return Holder{Identity: id, Age: time.Duration(1<<63 - 1)}
	}
	// A heartbeat from the future is a holder whose clock is ahead of ours: alive.
	return Holder{Identity: id, Age: max(now.Sub(at), 0)}
}

// Live tells whether a running kindling holds the workload.
func (h Holder) Live() bool { return h.Identity != "" && !h.Kept && h.Age < StaleAfter }

// String is the holder for the user, e.g. "laptop pid 4242", without the random suffix that only
// tells processes apart.
func (h Holder) String() string {
	if i := strings.LastIndex(h.Identity, " #"); i >= 0 {
		return h.Identity[:i]
	}
	return h.Identity
}

// HeldError is a workload that another kindling holds, live or kept; nothing was changed.
type HeldError struct {
	Namespace string
	Workload  kube.Ref
	Holder    Holder
}

func (e *HeldError) Error() string {
	if e.Holder.Kept {
		return fmt.Sprintf("%s keeps the restart supervisor (left by %s with --keep); run kindling restore -d %s -n %s to undo it",
			e.Workload, e.Holder, e.Workload.Arg(), e.Namespace)
	}
	wait := max(StaleAfter-e.Holder.Age, time.Second).Round(time.Second)
	return fmt.Sprintf("%s is held by another kindling (%s, alive %s ago); stop that one first, or if it is gone wait %s or run kindling restore -d %s -n %s --force",
		e.Workload, e.Holder, e.Holder.Age.Round(time.Second), wait, e.Workload.Arg(), e.Namespace)
}

// LostError is a session that no longer holds its workload: another kindling took it over after the
// session's heartbeat went stale, kindling restore --force removed the hold, or the workload was
// deleted. The session must stop.
type LostError struct {
	Namespace string
	Workload  kube.Ref
	// Holder is who holds the workload now (Identity "" for nobody).
	Holder Holder
	// Deleted is a workload that no longer exists.
	Deleted bool
}

func (e *LostError) Error() string {
	switch {
	case e.Deleted:
		return fmt.Sprintf("%s was deleted", e.Workload)
	case e.Holder.Identity == "":
		return fmt.Sprintf("%s is no longer held by this kindling (kindling restore --force removed the hold)", e.Workload)
	}
	return fmt.Sprintf("%s is no longer held by this kindling: %s took it over after this one's heartbeat went stale", e.Workload, e.Holder)
}

// Hold is a session's hold on a workload.
type Hold struct {
	// Identity is the session's, as written on the workload.
	Identity string
	// Previous is the hold Acquire replaced: a dead kindling's or a kept one (Identity "" when the
	// workload was free, this session's own when it held it already).
	Previous Holder

	client    kubernetes.Interface
	namespace string
	ref       kube.Ref
	clock     clock.Clock
}

// Acquire makes the session named identity the holder of the workload and writes its first
// heartbeat. It succeeds when no kindling holds the workload, when the holder is dead (its heartbeat
// is older than StaleAfter), when it was kept with --keep (the new session takes the wrap over), or
// when identity holds it already; otherwise it changes nothing and returns a *HeldError.
func Acquire(ctx context.Context, client kubernetes.Interface, namespace string, ref kube.Ref, identity string, clk clock.Clock) (*Hold, error) {
	h := &Hold{Identity: identity, client: client, namespace: namespace, ref: ref, clock: clk}
	err := retryOnConflict(func() error {
		w, err := kube.GetWorkload(ctx, client, namespace, ref)
		if err != nil {
			return err
		}
		d := w.Meta()
		now := clk.Now()
		current := HolderOf(d, now)
		if current.Live() && current.Identity != identity {
			return &HeldError{Namespace: namespace, Workload: ref, Holder: current}
		}
		h.Previous = current
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[AnnotationHolder] = identity
		d.Annotations[AnnotationHeartbeat] = now.UTC().Format(time.RFC3339)
		// w carries the resourceVersion it was read at: a hold written meanwhile makes this a conflict.
		_, err = w.Update(ctx, client)
		return err
	})
	var held *HeldError
	if errors.As(err, &held) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("hold %s in namespace %s: %w", ref, namespace, err)
	}
	return h, nil
}

// Run renews the heartbeat every HeartbeatInterval until ctx ends (it then returns nil) or the hold is
// lost (it returns a *LostError, and the session must stop). A renewal that fails otherwise, e.g. with
// the API server out of reach, is tried again at the next interval: should the outage outlast
// StaleAfter, another kindling may take the workload over, which the next renewal finds out.
//
// Stop Run (end ctx and wait for it to return) before RestoreWorkloadAs, Release or Keep end the
// hold it renews, or it reports the hold lost.
func (h *Hold) Run(ctx context.Context) error {
	for {
		t := h.clock.NewTimer(HeartbeatInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
		err := h.ifHeld(ctx, func(d *metav1.ObjectMeta) {
			d.Annotations[AnnotationHeartbeat] = h.clock.Now().UTC().Format(time.RFC3339)
		})
		if ctx.Err() != nil {
			return nil
		}
		var lost *LostError
		if errors.As(err, &lost) {
			return err
		}
	}
}

// Release ends the hold: it removes both annotations if this session still holds the workload, and
// changes nothing otherwise (the workload is another kindling's, already restored, or gone).
func (h *Hold) Release(ctx context.Context) error {
	return h.end(ctx, func(d *metav1.ObjectMeta) { removeHold(d) })
}

// Keep ends the hold but marks the workload as kept (--keep leaves it wrapped on purpose): a repair
// leaves it alone, kindling restore undoes it, a new session takes it over.
func (h *Hold) Keep(ctx context.Context) error {
	return h.end(ctx, func(d *metav1.ObjectMeta) { d.Annotations[AnnotationHeartbeat] = keptHeartbeat })
}

func (h *Hold) end(ctx context.Context, change func(*metav1.ObjectMeta)) error {
	err := h.ifHeld(ctx, change)
	var lost *LostError
	if errors.As(err, &lost) {
		return nil
	}
	return err
}

// ifHeld changes the workload's metadata with change if this session holds it, and returns a
// *LostError if it does not.
func (h *Hold) ifHeld(ctx context.Context, change func(*metav1.ObjectMeta)) error {
	err := retryOnConflict(func() error {
		w, err := kube.GetWorkload(ctx, h.client, h.namespace, h.ref)
		if err != nil {
			return err
		}
		if d := w.Meta(); d.Annotations[AnnotationHolder] != h.Identity {
			return &LostError{Namespace: h.namespace, Workload: h.ref, Holder: HolderOf(d, h.clock.Now())}
		}
		change(w.Meta())
		_, err = w.Update(ctx, h.client)
		return err
	})
	if apierrors.IsNotFound(err) {
		return &LostError{Namespace: h.namespace, Workload: h.ref, Deleted: true}
	}
	return err
}

// removeHold removes the hold annotations from d and reports whether there were any.
func removeHold(d *metav1.ObjectMeta) bool {
	_, held := d.Annotations[AnnotationHolder]
	_, beat := d.Annotations[AnnotationHeartbeat]
	delete(d.Annotations, AnnotationHolder)
	delete(d.Annotations, AnnotationHeartbeat)
	return held || beat
}
