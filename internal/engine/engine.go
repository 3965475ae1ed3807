// Package engine runs a sync session: it keeps every target container's tree equal to the local tree
// (minus excludes), one flush at a time, and asks the restart strategy to reload the app after each change.
//
// The engine owns all session state in one goroutine. Each container carries the tree it is known to
// hold, so a new or restarted container gets a full (diffed) sync while the others get only the change.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/internal/watch"
)

// Container is one container the session syncs into.
type Container struct {
	// ID changes when the container restarts, since a restart resets its filesystem.
	ID   string
	Exec transport.Execer
}

// Targets lists the containers to sync into and says when that list may have changed.
type Targets interface {
	Current(ctx context.Context) ([]Container, error)
	Changed() <-chan struct{}
}

// Reloader makes the app in one container serve the files just synced.
type Reloader interface {
	// Reload returns a short description of what it did, e.g. "restarted, serving after 95ms".
	Reload(ctx context.Context, c transport.Execer) (string, error)
}

// Hooks runs what a container needs between a sync and the reload: dependency installs, --on-change
// commands. changed are the paths the sync wrote or deleted; local is the tree the container now holds.
type Hooks interface {
	Run(ctx context.Context, c transport.Execer, changed []string, local plan.Tree) (note string, err error)
}

// hookError is a failed hook: the files are synced, the app keeps its old code, and the next change
// tries again (not a timer: an install that failed fails again until something changes).
type hookError struct{ error }

func (e hookError) Unwrap() error { return e.error }

// Config is what a session needs; the cli package builds it from flags.
type Config struct {
	Local   Local
	Dest    string
	Targets Targets
	// NewTransport opens the file transport into one container.
	NewTransport func(transport.Execer) transport.Transport
	// Reloader is nil when the app is not to be restarted.
	Reloader Reloader
	// Hooks is nil when nothing runs between a sync and the reload.
	Hooks Hooks
	// Timeout scales the deadlines of operations in a container (see opTimeout); zero means opTimeout.
	Timeout time.Duration
	Out     io.Writer
	// Report, when set, receives the facts of each line about a sync or a failure, for machines.
	Report func(Report)
	// RestartNow asks a watching session to reload the apps without a change (the `r` key).
	RestartNow <-chan struct{}
	// Verbose says also what a save led to when it changed nothing.
	Verbose bool
	// Keys says that the r and q keys work (a terminal), for the watching line.
	Keys  bool
	Clock clock.Clock
}

// ReportKind says what a Report is about.
type ReportKind int

const (
	// Synced is a flush that synced (written and deleted may be zero: a pod caught up, a retry).
	Synced ReportKind = iota + 1
	// Failed is a failure said to the user; the session retries unless it ends with the error.
	Failed
)

// Report is what a line about a flush says, as data: the engine's side of kindling's events.
type Report struct {
	Kind             ReportKind
	Written, Deleted int
	Bytes            int64
	// Targets are the containers synced (Synced) or failing (Failed).
	Targets []string
	// Duration is the flush's; SaveToServing is from the save to the reloaded app, when there was both.
	Duration, SaveToServing time.Duration
	Reload                  string
	Message                 string
	Retrying                bool
}

// report passes r on when the session has somewhere to send it.
func (s *Session) report(r Report) {
	if s.cfg.Report != nil {
		s.cfg.Report(r)
	}
}

// reportFailure sends err as a Failed report, naming the containers it concerns.
func (s *Session) reportFailure(err error) {
	r := Report{Kind: Failed, Message: err.Error(), Retrying: true}
	var f flushError
	if errors.As(err, &f) {
		for _, e := range f {
			var c *containerError
			if errors.As(e, &c) {
				r.Targets = append(r.Targets, c.targets...)
			}
		}
	}
	s.report(r)
}

// Session is one run of kindling sync.
type Session struct {
	cfg        Config
	local      plan.Tree
	source     transport.Source
	containers map[string]*containerState
	// savedAt is when the change being flushed was first seen, zero when the flush is not for a save;
	// saved are its paths.
	savedAt time.Time
	saved   []string
	// forceReload makes a flush reload every app, changed or not.
	forceReload bool
	// warned holds the unreadable local paths already reported.
	warned map[string]bool
	// leaveBehind lets a flush go on without a container far slower than the others (in watch mode);
	// caughtUp receives their outcomes.
	leaveBehind bool
	caughtUp    chan late
}

type containerState struct {
	Container
	transport transport.Transport
	// remote is the tree the container is known to hold; nil means unknown (read it before diffing).
	remote plan.Tree
	// read and readErr are a manifest read ahead, while the local tree was scanned.
	read    plan.Tree
	readErr error
	// started is false until the first sync into this container has been followed by a reload.
	started bool
	// behind is set while a sync that a flush left behind still runs: until it ends, only that sync
	// touches the other fields.
	behind bool
	// hooksOwed are changed paths whose hooks failed: the next sync runs them again.
	hooksOwed []string
}

// New prepares a session; nothing happens until Once or Watch.
func New(cfg Config) *Session {
	return &Session{cfg: cfg, containers: map[string]*containerState{}, caughtUp: make(chan late)}
}

// Once syncs the local tree into every current container and reloads the apps.
func (s *Session) Once(ctx context.Context) error {
	if err := s.refreshTargets(ctx); err != nil {
		return err
	}
	// Scanning the local tree and reading what the containers hold do not depend on each other.
	var wg sync.WaitGroup
	for _, c := range s.containers {
		if c.remote == nil {
			wg.Go(func() { c.read, c.readErr = c.transport.Manifest(ctx, s.cfg.Dest) })
		}
	}
	err := s.update(ctx, []string{""})
	wg.Wait()
	if err != nil {
		return err
	}
	return s.flush(ctx, s.cfg.Clock.Now(), "initial sync")
}

// retryAfter is how long a session waits before retrying a flush that failed for a reason that may pass
// (a file changed while it was sent, a pod restarting).
const retryAfter = time.Second

// Watch does an initial sync, then syncs each batch of local changes until ctx ends. Changes must come
// from a watcher started before Watch, so that nothing saved during the initial scan is lost. Only errors
// that no retry can fix (see Fatal) end the session; others are reported and retried.
func (s *Session) Watch(ctx context.Context, batches <-chan watch.Batch) error {
	s.leaveBehind = true
	err := s.Once(ctx)
	if Fatal(err) {
		return err
	}
	// The initial sync is a session's peak of memory (whole trees and manifests pass through it); give
	// that back to the system before idling, rather than whenever the runtime gets to it.
	debug.FreeOSMemory()
	var retry <-chan time.Time
	reported := ""
	// sayOnce reports err unless it is the failure said last: the same failure again and again is said
	// once, not once a second.
	sayOnce := func(err error, suffix string) {
		if msg := err.Error(); msg != reported {
			fmt.Fprintf(s.cfg.Out, "kindling: %v%s\n", err, suffix)
			s.reportFailure(err)
			reported = msg
		}
	}
	schedule := func(err error) {
		switch {
		case err == nil:
			reported = ""
		case errors.Is(err, errLocalUnknown):
			// The first scan or build failed (and said why): the next change tries again.
		case onlyHooks(err):
			sayOnce(err, "") // the next change runs it again
		case onlySourceChanged(err):
			// A file saved again while it was sent: the retry sends its new version; nothing to say.
			retry = s.cfg.Clock.NewTimer(retryAfter).C()
		case unreachable(err):
			// However each pod's request failed, it is one fact, said once until a flush succeeds.
			if reported != clusterUnreachable {
				fmt.Fprintf(s.cfg.Out, "kindling: %s (%v); retrying, and your changes are synced when it answers\n", clusterUnreachable, rootCause(err))
				s.report(Report{Kind: Failed, Message: fmt.Sprintf("%s (%v)", clusterUnreachable, rootCause(err)), Retrying: true})
				reported = clusterUnreachable
			}
			retry = s.cfg.Clock.NewTimer(retryAfter).C()
		case !isGone(err):
			sayOnce(err, " (retrying)")
			retry = s.cfg.Clock.NewTimer(retryAfter).C()
		}
	}
	if s.local == nil {
		fmt.Fprintf(s.cfg.Out, "kindling: %v; nothing is synced until a change makes it pass\n", err)
		err = errLocalUnknown
	}
	schedule(err)
	// With no pod running yet, the first flush that reaches one is the initial sync, and says so.
	initialOwed := isGone(err)
	label := func() string {
		if initialOwed {
			return "initial sync"
		}
		return ""
	}
	switch {
	case s.cfg.Keys && s.cfg.Reloader != nil:
		fmt.Fprintln(s.cfg.Out, "kindling: watching for changes (r: restart now, q or Ctrl-C: stop)")
	case s.cfg.Keys:
		fmt.Fprintln(s.cfg.Out, "kindling: watching for changes (q or Ctrl-C: stop)")
	default:
		fmt.Fprintln(s.cfg.Out, "kindling: watching for changes (Ctrl-C to stop)")
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case b, ok := <-batches:
			if !ok {
				return nil
			}
			start := s.cfg.Clock.Now()
			s.savedAt, s.saved = b.First, b.Paths
			paths := b.Paths
			if b.Rescan {
				paths = []string{""}
			}
			if err = s.update(ctx, paths); err != nil {
				// A failed build or an unreadable file: the next change tries again.
				fmt.Fprintf(s.cfg.Out, "kindling: %v\n", err)
				s.reportFailure(err)
				continue
			}
			// What a save leads to is news, even when it fails as the previous one did (a crash again);
			// an unreachable cluster is not.
			if reported != clusterUnreachable {
				reported = ""
			}
			err = s.flush(ctx, start, label())
		case <-s.cfg.Targets.Changed():
			start := s.cfg.Clock.Now()
			if err = s.refreshTargets(ctx); err == nil {
				err = s.flush(ctx, start, label())
			}
		case <-retry:
			retry = nil
			start := s.cfg.Clock.Now()
			err = s.flush(ctx, start, "retry")
		case l := <-s.caughtUp:
			start := s.cfg.Clock.Now()
			err = s.catchUp(ctx, start, l)
		case <-s.cfg.RestartNow:
			if s.cfg.Reloader == nil {
				fmt.Fprintln(s.cfg.Out, "kindling: nothing to restart: this session syncs files only (start it with --restart)")
				continue
			}
			start := s.cfg.Clock.Now()
			s.forceReload = true
			err = s.flush(ctx, start, "restart")
			s.forceReload = false
		}
		s.savedAt, s.saved = time.Time{}, nil
		if err == nil {
			initialOwed = false
		}
		switch {
		case ctx.Err() != nil:
			return nil // stopped during the flush: its failure is the stop's, nothing to retry or say
		case Fatal(err):
			return err
		}
		schedule(err)
	}
}

// catchUp takes back a container a flush left behind, once its sync ended, and brings it up to date.
func (s *Session) catchUp(ctx context.Context, start time.Time, l late) error {
	l.state.behind = false
	if s.containers[l.state.ID] != l.state {
		return nil // gone meanwhile
	}
	if l.err != nil {
		l.state.remote = nil
		fmt.Fprintf(s.cfg.Out, "kindling: %s: %v\n", l.target, l.err)
		s.report(Report{Kind: Failed, Message: fmt.Sprintf("%s: %v", l.target, l.err), Targets: []string{l.target}, Retrying: true})
	} else {
		fmt.Fprintf(s.cfg.Out, "kindling: %s answered again; catching it up\n", l.target)
	}
	return s.flush(ctx, start, "caught up")
}

// onlySourceChanged tells whether every failure of a flush is a local file saved again while it was sent.
func onlySourceChanged(err error) bool {
	if f, ok := err.(flushError); ok {
		for _, e := range f {
			if !errors.Is(e, transport.ErrSourceChanged) {
				return false
			}
		}
		return len(f) > 0
	}
	return errors.Is(err, transport.ErrSourceChanged)
}

// onlyHooks tells whether every failure of a flush is a failed install or --on-change command.
func onlyHooks(err error) bool {
	var f flushError
	if !errors.As(err, &f) || len(f) == 0 {
		return false
	}
	for _, e := range f {
		var h hookError
		if !errors.As(e, &h) {
			return false
		}
	}
	return true
}

// clusterUnreachable is what a flush says when the cluster's API server does not answer.
const clusterUnreachable = "the cluster is unreachable"

// unreachable tells whether err means the API server (through which every exec goes) could not be
// reached: a refused or broken connection, a timeout dialling it, or it answering that it is not ready.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	msg := err.Error()
	// (An exec stream the API server dropped as it went down ends in an abnormal WebSocket closure.)
	for _, s := range []string{"connection refused", "connection reset", "no route to host", "i/o timeout",
		"http2: client connection lost", "TLS handshake timeout", "the server is currently unable to handle the request",
		"websocket: close 1006 (abnormal closure)"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// rootCause is the innermost error of err's first chain, for a short message.
func rootCause(err error) error {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() []error }:
			if errs := e.Unwrap(); len(errs) > 0 {
				next = errs[0]
			}
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		}
		if next == nil {
			return err
		}
		err = next
	}
}

// update refreshes the local tree; on error the previous tree stays. It warns once about each path that
// became unreadable.
func (s *Session) update(ctx context.Context, changed []string) error {
	tree, source, err := s.cfg.Local.Update(ctx, changed)
	if tree != nil {
		s.local, s.source = tree, source
		s.warnUnreadable()
	}
	return err
}

// maxUnreadableWarnings bounds the lines one update prints about unreadable paths.
const maxUnreadableWarnings = 5

// warnUnreadable names the local paths that cannot be read (and are therefore left as they are in the
// containers), each once until it becomes readable again.
func (s *Session) warnUnreadable() {
	current := s.local.Unreadable()
	if len(current) == 0 && len(s.warned) == 0 {
		return
	}
	warned := make(map[string]bool, len(current))
	var fresh []plan.Item
	for _, it := range current {
		warned[it.Path] = true
		if !s.warned[it.Path] {
			fresh = append(fresh, it)
		}
	}
	s.warned = warned
	for i, it := range fresh {
		if i == maxUnreadableWarnings {
			fmt.Fprintf(s.cfg.Out, "kindling: warning: %d more local paths cannot be read and are skipped\n", len(fresh)-i)
			break
		}
		fmt.Fprintf(s.cfg.Out, "kindling: warning: cannot read %s (%s): skipped, its copy in the containers is left as it is; fix its permissions to sync it\n",
			it.Path, it.Hash)
	}
}

// Fatal reports whether err is one no retry can fix: the user has to change something.
func Fatal(err error) bool {
	// An error may say so itself, e.g. the API server's refusal for a lack of permission.
	var fatal interface{ Fatal() bool }
	return errors.Is(err, transport.ErrNoShell) || errors.Is(err, transport.ErrNotWritable) ||
		errors.As(err, &fatal) && fatal.Fatal()
}

// refreshTargets adds new containers (with an unknown remote tree) and forgets vanished ones.
func (s *Session) refreshTargets(ctx context.Context) error {
	current, err := s.cfg.Targets.Current(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range current {
		seen[c.ID] = true
		if _, ok := s.containers[c.ID]; !ok {
			s.containers[c.ID] = &containerState{Container: c, transport: s.cfg.NewTransport(c.Exec)}
		}
	}
	for id := range s.containers {
		if !seen[id] {
			delete(s.containers, id)
		}
	}
	return nil
}

// outcome is what one container's part of a flush did.
type outcome struct {
	target  string
	stats   transport.Stats
	changed bool
	reload  string
	hooks   string
	err     error
}

// errLocalUnknown stops a flush before the local side was ever read: diffing against nothing would
// delete everything in the containers.
var errLocalUnknown = errors.New("the local side has not been read yet")

// flush brings every container up to date with s.local, in parallel, and prints one line. In a watching
// session a container that is far slower than the others is left to finish in the background (see
// straggleAfter) and caught up when it answers; the flush reports it and does not wait for it.
func (s *Session) flush(ctx context.Context, start time.Time, label string) error {
	if s.local == nil {
		return errLocalUnknown
	}
	states := make([]*containerState, 0, len(s.containers))
	for _, c := range s.containers {
		if !c.behind {
			states = append(states, c)
		}
	}
	sort.Slice(states, func(i, j int) bool { return states[i].Exec.Target() < states[j].Exec.Target() })
	outcomes := make([]outcome, len(states))
	finished := make(chan int, len(states))
	local, source, force := s.local, s.source, s.forceReload
	for i, c := range states {
		go func() {
			outcomes[i] = s.syncContainer(ctx, c, local, source, force)
			finished <- i
		}()
	}
	done := make([]bool, len(states))
	var straggle <-chan time.Time
	for n := 0; n < len(states); n++ {
		select {
		case i := <-finished:
			done[i] = true
			if straggle == nil && s.leaveBehind && n+1 < len(states) {
				timer := s.cfg.Clock.NewTimer(straggleAfter(s.cfg.Clock.Now().Sub(start)))
				defer timer.Stop()
				straggle = timer.C()
			}
			continue
		case <-straggle:
		}
		// The others are done: leave the slow ones behind. (The syncs still running write into
		// outcomes, so the flush goes on with copies.)
		var left []*containerState
		var kept []*containerState
		var keptOutcomes []outcome
		for i, c := range states {
			if done[i] {
				kept, keptOutcomes = append(kept, c), append(keptOutcomes, outcomes[i])
				continue
			}
			c.behind = true
			left = append(left, c)
			fmt.Fprintf(s.cfg.Out, "kindling: %s is slow (no answer after %s); the other pods go on, it catches up when it answers\n",
				c.Exec.Target(), s.cfg.Clock.Now().Sub(start).Round(time.Millisecond))
		}
		all, allOutcomes := states, outcomes
		go func() {
			for range left {
				i := <-finished
				select {
				case s.caughtUp <- late{all[i], allOutcomes[i]}:
				case <-ctx.Done():
				}
			}
		}()
		return s.summarize(ctx, start, label, kept, keptOutcomes)
	}
	return s.summarize(ctx, start, label, states, outcomes)
}

// straggleAfter is how long a flush waits for the last containers once the first has finished: a
// container that needs more than a few times what the others needed is stuck or far slower.
func straggleAfter(firstDone time.Duration) time.Duration {
	return max(3*time.Second, 3*firstDone)
}

// late is the outcome of a container's sync that a flush left behind.
type late struct {
	state *containerState
	outcome
}

// Deadlines of the operations in a container: one that does not answer in time is reported by name and
// dropped from the flush (its shell is ended), and the next flush tries again.
const (
	opTimeout = 20 * time.Second
	// minRate is the slowest transfer (bytes per second) taken for a live container.
	minRate = 512 << 10
	// reloadTimeout is added to opTimeout for a reload, which waits for the app to serve again.
	reloadTimeout = 40 * time.Second
)

// within runs op with a deadline of d beyond the session's context, and names the container that missed it.
func (s *Session) within(ctx context.Context, c *containerState, d time.Duration, what string, op func(context.Context) error) error {
	if s.cfg.Timeout > 0 {
		d = time.Duration(float64(d) * float64(s.cfg.Timeout) / float64(opTimeout))
	}
	opCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := op(opCtx)
	if err != nil && ctx.Err() == nil && errors.Is(opCtx.Err(), context.DeadlineExceeded) {
		next := "trying again"
		if !s.leaveBehind {
			next = "check the pod (kubectl describe) and run kindling again" // --once: there is no next sync
		}
		return fmt.Errorf("%s did not finish %s within %s; dropped from this sync, %s", c.Exec.Target(), what, d.Round(time.Millisecond), next)
	}
	return err
}

// syncContainer brings one container to local. It only reads the session state it is given, and writes
// only c's.
// force reloads the app even when nothing changed.
func (s *Session) syncContainer(ctx context.Context, c *containerState, local plan.Tree, source transport.Source, force bool) outcome {
	o := outcome{target: c.Exec.Target()}
	remote := c.remote
	firstContact := remote == nil
	if firstContact {
		var err error
		remote, err = c.read, c.readErr
		c.read, c.readErr = nil, nil
		if remote == nil && err == nil {
			err = s.within(ctx, c, opTimeout, "reading its files", func(ctx context.Context) error {
				remote, err = c.transport.Manifest(ctx, s.cfg.Dest)
				return err
			})
		}
		if err != nil {
			o.err = err
			return o
		}
	}
	p := plan.Diff(local, remote)
	// On first contact even an empty plan is applied when the container holds nothing under --dest: it
	// creates --dest and proves it writable (a manifest of an existing --dest proves that already).
	if !p.Empty() || firstContact && len(remote) == 0 {
		err := s.within(ctx, c, opTimeout+time.Duration(p.Bytes()/minRate)*time.Second, "writing files", func(ctx context.Context) error {
			var err error
			o.stats, err = c.transport.Apply(ctx, s.cfg.Dest, p, source)
			return err
		})
		if err != nil {
			c.remote = nil // partly applied: read it again next time
			o.err = err
			return o
		}
		o.changed = !p.Empty()
	}
	c.remote = plan.AfterApply(local, remote)
	if changed := append(c.hooksOwed, p.Changed()...); s.cfg.Hooks != nil && len(changed) > 0 {
		err := s.within(ctx, c, opTimeout+reloadTimeout, "running the install or --on-change commands", func(ctx context.Context) error {
			var err error
			o.hooks, err = s.cfg.Hooks.Run(ctx, c.Exec, changed, c.remote)
			return err
		})
		if err != nil {
			c.hooksOwed = changed
			o.err = hookError{fmt.Errorf("files synced, but %w; the app keeps running its previous code until the next change", err)}
			return o
		}
		c.hooksOwed = nil
	}
	if s.cfg.Reloader != nil && (o.changed || !c.started || force) {
		var note string
		err := s.within(ctx, c, opTimeout+reloadTimeout, "reloading the app", func(ctx context.Context) error {
			var err error
			note, err = s.cfg.Reloader.Reload(ctx, c.Exec)
			return err
		})
		if err != nil {
			o.err = fmt.Errorf("files synced, but the app did not reload: %w", err)
			return o
		}
		c.started = true
		o.reload = note
	}
	return o
}

// summarize prints the flush's line, and drops containers that went away during it.
func (s *Session) summarize(ctx context.Context, start time.Time, label string, states []*containerState, outcomes []outcome) error {
	if len(states) == 0 {
		return errNoTargets
	}
	var total transport.Stats
	var reloads, targets []string
	hookNote := ""
	synced, changed, failed := 0, 0, 0
	for i, o := range outcomes {
		total.Written += o.stats.Written
		total.Deleted += o.stats.Deleted
		total.Bytes += o.stats.Bytes
		if o.err != nil {
			failed++
			states[i].remote = nil
			continue
		}
		synced++
		targets = append(targets, o.target)
		if o.hooks != "" && hookNote == "" {
			hookNote = o.hooks
		}
		if o.changed {
			changed++
		}
		if o.reload != "" {
			reloads = append(reloads, o.reload)
		}
	}
	var failures flushError
	if failed > 0 {
		failures = s.dropGone(ctx, states, outcomes)
	}
	if changed == 0 && len(reloads) == 0 && failed == 0 && label == "" {
		// e.g. a save that did not change content, or a pod event with nothing to do
		if s.cfg.Verbose && len(s.saved) > 0 {
			fmt.Fprintf(s.cfg.Out, "kindling: %s: no content change, nothing to sync\n", listPaths(s.saved))
		}
		return nil
	}
	if synced == 0 && total.Written == 0 && total.Deleted == 0 && len(failures) > 0 {
		return failures // nothing happened: the error says it all (once, not a line a retry)
	}
	now := s.cfg.Clock.Now()
	line := fmt.Sprintf("%s %d written, %d deleted (%s) → %d/%d pods in %s",
		now.Format("15:04:05"), total.Written, total.Deleted, HumanBytes(total.Bytes),
		synced, len(states), now.Sub(start).Round(time.Millisecond))
	if label != "" {
		line += " [" + label + "]"
	}
	rep := Report{Kind: Synced, Written: total.Written, Deleted: total.Deleted, Bytes: total.Bytes, Targets: targets, Duration: now.Sub(start)}
	if hookNote != "" {
		line += "; " + hookNote
	}
	if len(reloads) > 0 {
		line += "; " + reloads[0]
		rep.Reload = reloads[0]
		if !s.savedAt.IsZero() {
			rep.SaveToServing = now.Sub(s.savedAt)
			line += fmt.Sprintf("; save-to-serving %s", rep.SaveToServing.Round(time.Millisecond))
		}
	}
	fmt.Fprintln(s.cfg.Out, line)
	s.report(rep)
	if len(failures) > 0 {
		return failures
	}
	return nil
}

// listPaths names a few paths for a line: "a.py, b.py and 3 more".
func listPaths(paths []string) string {
	const shown = 3
	if len(paths) <= shown {
		return strings.Join(paths, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(paths[:shown], ", "), len(paths)-shown)
}

// flushError is the failures of one flush, one per container, on one line.
type flushError []error

func (f flushError) Error() string {
	msgs := make([]string, len(f))
	for i, err := range f {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (f flushError) Unwrap() []error { return f }

var errNoTargets = errors.New("no running pod to sync into yet; waiting for one")

func isGone(err error) bool { return errors.Is(err, errNoTargets) }

// dropGone removes failed containers that are no longer targets (a pod deleted mid-transfer is not a
// failure of the session) and returns the failures that remain.
func (s *Session) dropGone(ctx context.Context, states []*containerState, outcomes []outcome) flushError {
	current, listErr := s.cfg.Targets.Current(ctx)
	alive := map[string]bool{}
	for _, c := range current {
		alive[c.ID] = true
	}
	var grouped []*containerError
	// Replicas of one app mostly fail alike (the same crash in each): said once, naming them all.
	alike := map[string]int{}
	for i, o := range outcomes {
		if o.err == nil {
			continue
		}
		if listErr == nil && !alive[states[i].ID] {
			delete(s.containers, states[i].ID)
			fmt.Fprintf(s.cfg.Out, "kindling: %s went away during the sync; skipped\n", o.target)
			continue
		}
		key := strings.ReplaceAll(o.err.Error(), o.target, "")
		if j, ok := alike[key]; ok {
			grouped[j].targets = append(grouped[j].targets, o.target)
			continue
		}
		alike[key] = len(grouped)
		grouped = append(grouped, &containerError{targets: []string{o.target}, err: o.err})
	}
	var remaining flushError
	for _, e := range grouped {
		remaining = append(remaining, e)
	}
	return remaining
}

// containerError is one failure of a flush, in one or more containers that failed alike.
type containerError struct {
	targets []string
	err     error
}

func (e *containerError) Error() string {
	if len(e.targets) == 1 {
		return e.targets[0] + ": " + e.err.Error()
	}
	// The message may name the first container, where the others failed alike: it is said for all.
	return strings.Join(e.targets, ", ") + ": " + strings.ReplaceAll(e.err.Error(), e.targets[0]+": ", "")
}

func (e *containerError) Unwrap() error { return e.err }

// HumanBytes is a size as kindling's lines say it: KB, MB and GB of 2^10, 2^20 and 2^30 bytes.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
