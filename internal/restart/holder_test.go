package restart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	typedappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kindling-dev/kindling/internal/clock"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// apiServer is a fake clientset holding one Deployment that, like an API server, turns down an update
// made at a resourceVersion other than the stored one (the fake's tracker does not), and counts the
// conflicts. As for the API server, an update without a resourceVersion is unconditional.
func apiServer(t *testing.T, d *appsv1.Deployment) (*fake.Clientset, *atomic.Int32) {
	t.Helper()
	d = d.DeepCopy()
	d.ResourceVersion = "1"
	client := fake.NewClientset(d)
	conflicts := &atomic.Int32{}
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	// The fake runs one reaction at a time, so this read, compare and bump is atomic.
	client.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
		stored, err := client.Tracker().Get(gvr, obj.Namespace, obj.Name)
		if err != nil {
			return true, nil, err
		}
		current := stored.(*appsv1.Deployment).ResourceVersion
		if obj.ResourceVersion != "" && obj.ResourceVersion != current {
			conflicts.Add(1)
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, obj.Name,
				errors.New("the object has been modified"))
		}
		n, _ := strconv.Atoi(current)
		obj.ResourceVersion = strconv.Itoa(n + 1)
		return false, nil, nil // the tracker stores obj
	})
	return client, conflicts
}

func heldDeployment(holder, heartbeat string) *appsv1.Deployment {
	d := deployment(template(corev1.Container{Name: "app", Command: []string{"node", "server.js"}}))
	if holder != "" {
		d.Annotations[AnnotationHolder] = holder
		d.Annotations[AnnotationHeartbeat] = heartbeat
	}
	return d
}

func holderOf(t *testing.T, client kubernetes.Interface, now time.Time) Holder {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return HolderOf(&d.ObjectMeta, now)
}

func TestAcquire(t *testing.T) {
	ctx := context.Background()
	beat := func(ago time.Duration) string { return t0.Add(-ago).Format(time.RFC3339) }
	for _, tc := range []struct {
		name, holder, heartbeat string
		held                    bool // Acquire refuses
		previous                Holder
	}{
		{name: "free"},
		{name: "live holder", holder: "laptop pid 4242 #0a0b0c0d", heartbeat: beat(3 * time.Second), held: true},
		{name: "live holder, clock ahead of ours", holder: "laptop pid 4242 #0a0b0c0d", heartbeat: beat(-20 * time.Second), held: true},
		{name: "holder just under stale", holder: "laptop pid 4242 #0a0b0c0d", heartbeat: beat(StaleAfter - time.Second), held: true},
		{name: "dead holder", holder: "laptop pid 4242 #0a0b0c0d", heartbeat: beat(StaleAfter),
			previous: Holder{Identity: "laptop pid 4242 #0a0b0c0d", Age: StaleAfter}},
		{name: "unreadable heartbeat", holder: "laptop pid 4242 #0a0b0c0d", heartbeat: "soon",
			previous: Holder{Identity: "laptop pid 4242 #0a0b0c0d", Age: time.Duration(1<<63 - 1)}},
		{name: "kept with --keep", holder: "laptop pid 4242 #0a0b0c0d", heartbeat: "kept",
			previous: Holder{Identity: "laptop pid 4242 #0a0b0c0d", Kept: true}},
		{name: "already ours", holder: "me", heartbeat: beat(time.Second), previous: Holder{Identity: "me", Age: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := heldDeployment(tc.holder, tc.heartbeat)
			client, _ := apiServer(t, before)
			h, err := Acquire(ctx, client, ns, web, "me", clock.NewFake(t0))
			if tc.held {
				var held *HeldError
				if !errors.As(err, &held) || held.Holder.Identity != tc.holder {
					t.Fatalf("Acquire = %v, want a HeldError naming %q", err, tc.holder)
				}
				if got := getDeployment(t, client).Annotations; got[AnnotationHolder] != tc.holder || got[AnnotationHeartbeat] != tc.heartbeat {
					t.Fatalf("a refused Acquire changed the hold: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Previous != tc.previous {
				t.Errorf("Previous = %+v, want %+v", h.Previous, tc.previous)
			}
			got := getDeployment(t, client).Annotations
			if got[AnnotationHolder] != "me" || got[AnnotationHeartbeat] != t0.Format(time.RFC3339) {
				t.Fatalf("annotations after Acquire: %v", got)
			}
		})
	}
}

func TestHeldErrorIsOneActionableLine(t *testing.T) {
	client, _ := apiServer(t, heldDeployment("laptop pid 4242 #0a0b0c0d", t0.Add(-3*time.Second).Format(time.RFC3339)))
	_, err := Acquire(context.Background(), client, ns, web, "me", clock.NewFake(t0))
	want := "deployment/web is held by another kindling (laptop pid 4242, alive 3s ago); stop that one first, or if it is gone wait 42s or run kindling restore -d web -n dev --force"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	kept := &HeldError{Namespace: ns, Workload: web, Holder: Holder{Identity: "laptop pid 4242 #0a0b0c0d", Kept: true}}
	want = "deployment/web keeps the restart supervisor (left by laptop pid 4242 with --keep); run kindling restore -d web -n dev to undo it"
	if kept.Error() != want {
		t.Fatalf("kept\n got %s\nwant %s", kept, want)
	}
}

func TestNewIdentityTellsProcessesApart(t *testing.T) {
	a, b := NewIdentity(), NewIdentity()
	if a == b || !strings.Contains(a, " pid ") {
		t.Fatalf("identities %q and %q", a, b)
	}
	if s := (Holder{Identity: a}).String(); strings.Contains(s, "#") || !strings.HasPrefix(a, s+" #") {
		t.Fatalf("%q shows as %q", a, s)
	}
}

// gatedClient makes the first two reads of the Deployment wait for each other, so that two Acquires
// both see it free before either writes: the race that the resourceVersion must settle.
type gatedClient struct {
	kubernetes.Interface
	gate *gate
}

type gate struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func (g *gate) pass() {
	g.mu.Lock()
	g.waiting++
	if g.waiting == 2 {
		close(g.open)
	}
	g.mu.Unlock()
	<-g.open
}

func (c gatedClient) AppsV1() typedappsv1.AppsV1Interface {
	return gatedApps{c.Interface.AppsV1(), c.gate}
}

type gatedApps struct {
	typedappsv1.AppsV1Interface
	gate *gate
}

func (a gatedApps) Deployments(namespace string) typedappsv1.DeploymentInterface {
	return gatedDeployments{a.AppsV1Interface.Deployments(namespace), a.gate}
}

type gatedDeployments struct {
	typedappsv1.DeploymentInterface
	gate *gate
}

func (d gatedDeployments) Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error) {
	got, err := d.DeploymentInterface.Get(ctx, name, opts)
	d.gate.pass()
	return got, err
}

func TestConcurrentAcquiresOneWins(t *testing.T) {
	for range 20 {
		client, conflicts := apiServer(t, heldDeployment("", ""))
		g := &gate{open: make(chan struct{})}
		c := gatedClient{client, g}
		clk := clock.NewFake(t0)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, id := range []string{"a", "b"} {
			wg.Go(func() { _, errs[i] = Acquire(context.Background(), c, ns, web, id, clk) })
		}
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("both Acquires won; %q holds the Deployment", holderOf(t, client, t0).Identity)
		}
		if conflicts.Load() == 0 {
			t.Fatal("no update conflicted: the test did not race the two Acquires")
		}
		winner := holderOf(t, client, t0).Identity
		for i, id := range []string{"a", "b"} {
			var held *HeldError
			switch {
			case id == winner && errs[i] != nil:
				t.Fatalf("%s holds the Deployment but Acquire said %v", id, errs[i])
			case id != winner && (!errors.As(errs[i], &held) || held.Holder.Identity != winner):
				t.Fatalf("%s lost to %q but Acquire said %v", id, winner, errs[i])
			}
		}
	}
}

// waitForTimer waits until Run has set its next heartbeat timer.
func waitForTimer(t *testing.T, clk *clock.Fake) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Pending() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run set no timer")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunRenewsTheHeartbeatUntilStopped(t *testing.T) {
	client, _ := apiServer(t, heldDeployment("", ""))
	clk := clock.NewFake(t0)
	h, err := Acquire(context.Background(), client, ns, web, "me", clk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	for i := 1; i <= 3; i++ {
		waitForTimer(t, clk)
		clk.Advance(HeartbeatInterval)
		want := t0.Add(time.Duration(i) * HeartbeatInterval)
		deadline := time.Now().Add(5 * time.Second)
		for holderOf(t, client, want).Age != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("beat %d: heartbeat %s, want %s", i, getDeployment(t, client).Annotations[AnnotationHeartbeat], want.Format(time.RFC3339))
			}
			time.Sleep(time.Millisecond)
		}
		// Another kindling, judging by its clock a full StaleAfter after the first beat, sees a live
		// holder: the renewals keep it.
		if _, err := Acquire(context.Background(), client, ns, web, "other", clock.NewFake(t0.Add(StaleAfter))); err == nil {
			t.Fatalf("beat %d: another kindling took over a renewed hold", i)
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after its context ended", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

func TestRunReportsALostHold(t *testing.T) {
	for _, tc := range []struct {
		name    string
		take    func(client kubernetes.Interface) error
		deleted bool
		holder  string
	}{
		{name: "taken over after a stale heartbeat", holder: "other", take: func(client kubernetes.Interface) error {
			_, err := Acquire(context.Background(), client, ns, web, "other", clock.NewFake(t0.Add(StaleAfter)))
			return err
		}},
		{name: "restore --force", take: func(client kubernetes.Interface) error {
			_, err := RestoreWorkloadAs(context.Background(), client, ns, web, RestoreOptions{Force: true, Clock: clock.NewFake(t0)})
			return err
		}},
		{name: "deployment deleted", deleted: true, take: func(client kubernetes.Interface) error {
			return client.AppsV1().Deployments(ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := apiServer(t, heldDeployment("", ""))
			clk := clock.NewFake(t0)
			h, err := Acquire(context.Background(), client, ns, web, "me", clk)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.take(client); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- h.Run(context.Background()) }()
			waitForTimer(t, clk)
			clk.Advance(HeartbeatInterval)
			select {
			case err := <-done:
				var lost *LostError
				if !errors.As(err, &lost) || lost.Deleted != tc.deleted || lost.Holder.Identity != tc.holder {
					t.Fatalf("Run = %#v, want a LostError (deleted %v, holder %q)", err, tc.deleted, tc.holder)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not report the lost hold")
			}
			if d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{}); err == nil && d.Annotations[AnnotationHolder] != tc.holder {
				t.Fatalf("Run changed the hold it lost: %v", d.Annotations)
			}
		})
	}
}

func TestReleaseAndKeepOnlyWhenHeld(t *testing.T) {
	ctx := context.Background()
	client, _ := apiServer(t, heldDeployment("", ""))
	clk := clock.NewFake(t0)
	h, err := Acquire(ctx, client, ns, web, "me", clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := getDeployment(t, client).Annotations; len(got) != 1 {
		t.Fatalf("annotations after Release: %v", got)
	}

	// A hold someone else took: Release and Keep leave theirs alone.
	if _, err := Acquire(ctx, client, ns, web, "other", clk); err != nil {
		t.Fatal(err)
	}
	before := getDeployment(t, client).Annotations
	for _, end := range []func(context.Context) error{h.Release, h.Keep} {
		if err := end(ctx); err != nil {
			t.Fatal(err)
		}
		if got := getDeployment(t, client).Annotations; got[AnnotationHolder] != "other" || got[AnnotationHeartbeat] != before[AnnotationHeartbeat] {
			t.Fatalf("ending a hold we lost changed %v to %v", before, got)
		}
	}

	// Keep marks our own hold as kept: not live, yet not repaired.
	mine, err := Acquire(ctx, client, ns, web, "me", clock.NewFake(t0.Add(StaleAfter)))
	if err != nil {
		t.Fatal(err)
	}
	if err := mine.Keep(ctx); err != nil {
		t.Fatal(err)
	}
	if h := holderOf(t, client, t0); !h.Kept || h.Live() || h.Identity != "me" {
		t.Fatalf("after Keep: %+v", h)
	}

	// The Deployment deleted: nothing to release.
	if err := client.AppsV1().Deployments(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := mine.Release(ctx); err != nil {
		t.Fatalf("Release of a deleted Deployment: %v", err)
	}
}

// TestWhoMayUndoAWrap is the rule of mayUndo, through RestoreDeploymentAs: the holder, anyone when
// the holder is dead or absent, a kept Deployment only kindling restore, anything with --force.
func TestWhoMayUndoAWrap(t *testing.T) {
	ctx := context.Background()
	beat := func(ago time.Duration) string { return t0.Add(-ago).Format(time.RFC3339) }
	repair := RestoreOptions{}
	restoreCmd := RestoreOptions{Kept: true}
	force := RestoreOptions{Kept: true, Force: true}
	owner := RestoreOptions{Identity: "me"}
	for _, tc := range []struct {
		name, holder, heartbeat string
		opts                    RestoreOptions
		refused                 bool
	}{
		{name: "nobody holds it: repair", opts: repair},
		{name: "dead holder: repair", holder: "laptop pid 1 #01", heartbeat: beat(StaleAfter), opts: repair},
		{name: "dead holder: restore", holder: "laptop pid 1 #01", heartbeat: beat(time.Hour), opts: restoreCmd},
		{name: "live holder: repair", holder: "laptop pid 1 #01", heartbeat: beat(time.Second), opts: repair, refused: true},
		{name: "live holder: restore", holder: "laptop pid 1 #01", heartbeat: beat(time.Second), opts: restoreCmd, refused: true},
		{name: "live holder: another session's exit", holder: "laptop pid 1 #01", heartbeat: beat(time.Second), opts: owner, refused: true},
		{name: "live holder: restore --force", holder: "laptop pid 1 #01", heartbeat: beat(time.Second), opts: force},
		{name: "the holder's own exit", holder: "me", heartbeat: beat(time.Second), opts: owner},
		{name: "kept: repair", holder: "laptop pid 1 #01", heartbeat: "kept", opts: repair, refused: true},
		{name: "kept: restore", holder: "laptop pid 1 #01", heartbeat: "kept", opts: restoreCmd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			original := deployment(template(corev1.Container{Name: "app", Command: []string{"node", "server.js"}}))
			client, _ := apiServer(t, original)
			if _, err := WrapWorkload(ctx, client, ns, web, WrapOptions{Container: "app", Session: "laptop pid 1 #01"}); err != nil {
				t.Fatal(err)
			}
			d := getDeployment(t, client)
			if tc.holder != "" {
				d.Annotations[AnnotationHolder], d.Annotations[AnnotationHeartbeat] = tc.holder, tc.heartbeat
				if _, err := client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			before := userView(t, getDeployment(t, client))
			tc.opts.Clock = clock.NewFake(t0)
			restored, err := RestoreWorkloadAs(ctx, client, ns, web, tc.opts)
			var held *HeldError
			if tc.refused {
				if !errors.As(err, &held) || held.Holder.Identity != tc.holder || restored {
					t.Fatalf("RestoreDeploymentAs = %v, %v; want a HeldError naming %q", restored, err, tc.holder)
				}
				if got := userView(t, getDeployment(t, client)); got != before {
					t.Fatalf("a refused restore changed the Deployment\n got %s\nwant %s", got, before)
				}
				return
			}
			if err != nil || !restored {
				t.Fatalf("RestoreDeploymentAs = %v, %v", restored, err)
			}
			// Restored exactly, and no trace of the hold left.
			if got, want := userView(t, getDeployment(t, client)), userView(t, original); got != want {
				t.Fatalf("restored\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestRestoreRemovesADeadHoldWithoutAWrap(t *testing.T) {
	// A --restart session with the signal strategy holds the Deployment without wrapping it; killed,
	// it leaves only the hold, which the repair removes.
	before := heldDeployment("", "")
	client, _ := apiServer(t, heldDeployment("laptop pid 1 #01", t0.Add(-time.Hour).Format(time.RFC3339)))
	restored, err := RestoreWorkloadAs(context.Background(), client, ns, web, RestoreOptions{Clock: clock.NewFake(t0)})
	if err != nil || restored {
		t.Fatalf("RestoreDeploymentAs = %v, %v; want nothing restored", restored, err)
	}
	if got, want := userView(t, getDeployment(t, client)), userView(t, before); got != want {
		t.Fatalf("after the repair\n got %s\nwant %s", got, want)
	}
}

func TestOnlyTheHolderWrapsAndRestores(t *testing.T) {
	ctx := context.Background()
	original := heldDeployment("", "")
	client, _ := apiServer(t, original)
	mine, theirs := NewIdentity(), NewIdentity()
	if _, err := Acquire(ctx, client, ns, web, theirs, clock.Real{}); err != nil {
		t.Fatal(err)
	}
	before := userView(t, getDeployment(t, client))
	var held *HeldError
	if _, err := WrapWorkload(ctx, client, ns, web, WrapOptions{Container: "app", Session: mine}); !errors.As(err, &held) {
		t.Fatalf("WrapDeployment of a Deployment another kindling holds: %v", err)
	}
	if userView(t, getDeployment(t, client)) != before {
		t.Fatal("a refused wrap changed the Deployment")
	}

	// The holder wraps, and its Wrapper's Restore undoes the wrap and the hold in one update.
	w := &Wrapper{Client: client, Namespace: ns, Workload: web, Options: WrapOptions{Container: "app", Session: theirs}}
	if err := w.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	mineW := &Wrapper{Client: client, Namespace: ns, Workload: web, Options: WrapOptions{Container: "app", Session: mine}}
	if err := mineW.Restore(ctx); !errors.As(err, &held) {
		t.Fatalf("another session's Restore: %v", err)
	}
	n := updates(client)
	if err := w.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := userView(t, getDeployment(t, client)), userView(t, original); got != want || updates(client) != n+1 {
		t.Fatalf("after the holder's Restore (%d updates)\n got %s\nwant %s", updates(client)-n, got, want)
	}
}

// A holder that was a process of this machine and no longer runs is dead at once, whatever its heartbeat
// says: a kindling killed here is repaired without waiting for its heartbeat to go stale.
func TestAHolderThatExitedOnThisMachineIsDeadAtOnce(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	fresh := now.UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		identity string
		live     bool
	}{
		{fmt.Sprintf("%s pid %d #abcd", host, gone.Process.Pid), false},
		{fmt.Sprintf("%s pid %d #abcd", host, os.Getpid()), true},
		{fmt.Sprintf("elsewhere pid %d #abcd", gone.Process.Pid), true},
	} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			AnnotationHolder: tt.identity, AnnotationHeartbeat: fresh}}}
		if got := HolderOf(&d.ObjectMeta, now).Live(); got != tt.live {
			t.Errorf("%s with a fresh heartbeat: live = %v, want %v", tt.identity, got, tt.live)
		}
	}
}
