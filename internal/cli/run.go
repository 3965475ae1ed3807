package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kindling-dev/kindling/internal/clock"
	"github.com/kindling-dev/kindling/internal/engine"
	"github.com/kindling-dev/kindling/internal/hooks"
	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/restart"
	"github.com/kindling-dev/kindling/internal/transport"
	"github.com/kindling-dev/kindling/internal/watch"
)

// firstPodTimeout bounds how long --once waits for a pod that is still starting.
const firstPodTimeout = 2 * time.Minute

// runSync runs the entries of a run in one process: one file watcher over all their source trees, one
// connection to the cluster, and for each entry its own session, strategy, pods and restore. An entry that
// fails does not stop the others; a stop (Ctrl-C) stops and restores them all.
// poll, when set, watches by polling at that interval instead of file system events.
func runSync(ctx context.Context, rep *reporter, entries []syncOptions, poll time.Duration, connect func() (*cluster, error)) error {
	watching := !entries[0].once && !entries[0].dryRun
	inputs := make([]entryInput, len(entries))
	if watching {
		// The watcher starts before the initial scans so that a save during a scan is not lost.
		shared, err := watchEntries(entries, rep, poll)
		if err != nil {
			return err
		}
		defer shared.Close()
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		restarts := make([]chan struct{}, len(entries))
		for i := range restarts {
			restarts[i] = make(chan struct{}, 1)
		}
		// In a terminal, r restarts every entry's app now and q stops like Ctrl-C.
		restoreKeys, err := watchKeys(os.Stdin, keyActions{
			Restart: func() {
				for _, r := range restarts {
					select {
					case r <- struct{}{}:
					default: // one pending is enough
					}
				}
			},
			Quit:      cancel,
			Interrupt: cancel,
		})
		if err != nil {
			return err
		}
		defer restoreKeys()
		for i := range inputs {
			inputs[i] = entryInput{changes: shared.feeds[i], restartNow: restarts[i], keys: keysActive()}
		}
	}
	client, err := connect()
	if err != nil {
		return err
	}
	if len(entries) == 1 {
		return runEntry(ctx, rep.entry(entries[0].deployment, false), entries[0], inputs[0], client.in(entries[0].namespace))
	}
	errs := make([]error, len(entries))
	var wg sync.WaitGroup
	for i, o := range entries {
		wg.Go(func() {
			e := rep.entry(o.deployment, true)
			if errs[i] = runEntry(ctx, e, o, inputs[i], client.in(o.namespace)); errs[i] != nil {
				fmt.Fprintf(e.out, "kindling: %v\n", kube.ExplainDenied(errs[i]))
			}
		})
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, entries[i].deployment)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d entries ended with an error (said above): %s", len(failed), len(entries), strings.Join(failed, ", "))
	}
	return nil
}

// entryInput is what drives a watching entry besides its files: its changes, and the r key.
type entryInput struct {
	changes    <-chan string
	restartNow <-chan struct{}
	// keys says that the r and q keys work (stdin is a terminal).
	keys bool
}

// runEntry runs one entry: it reaches the Deployment, plans the strategy, changes the cluster only from
// the moment every way out restores it, and syncs until ctx ends (or once).
func runEntry(ctx context.Context, rep *entryReporter, o syncOptions, in entryInput, client *cluster) (err error) {
	out := rep.out
	// leftChanged says whether the cluster still holds a change of this entry's: what "stopped" reports.
	leftChanged, restoreFailed := false, false
	defer func() {
		if err != nil && ctx.Err() == nil {
			rep.failed(kube.ExplainDenied(err).Error(), false, nil)
		}
		if !o.dryRun {
			rep.stopped(!leftChanged)
		}
	}()
	matcher, err := ignore.New(o.src, o.excludes)
	if err != nil {
		return usageError{err}
	}
	local := &engine.Dir{Src: o.src, Excluded: matcher.Excluded, HashFile: localHashFile(o.src)}
	heavy := &heavyTreeWarning{Local: local, out: out}
	if !o.restart && !o.dryRun {
		// Nothing about the source tree depends on the cluster: it is read while kindling reaches it. (With
		// --restart the runtime decides what is synced, and a start is a rollout anyway.)
		local.StartScan()
	}
	warm := startWarmShells(client, o.deployment)
	defer warm.closeRest()
	ref, err := kube.ParseRef(o.deployment)
	if err != nil {
		return usageError{err}
	}
	d, err := client.GetWorkload(ctx, ref)
	if err != nil {
		return err
	}
	container, err := kube.ContainerName(d, o.container)
	if err != nil {
		return usageError{err}
	}
	if o.restart {
		if err := d.RollsOut(); err != nil {
			return err
		}
	}
	if !o.restart && !o.dryRun {
		// A previous kindling that was killed may have left the Deployment wrapped (or held): repair it.
		// A live session's Deployment is refused instead (see restart.RestoreDeploymentAs).
		if err := repair(ctx, out, client, d); err != nil {
			return err
		}
	}
	identity := restart.NewIdentity()
	// endHeartbeat stops the hold's heartbeat, before the strategy's restore ends the hold.
	endHeartbeat := func() {}
	if o.restart && !o.dryRun {
		// The hold comes before anything else is changed: a second session refuses here, at once.
		// (acquireErr: the deferred release below must read the function's err, not a shadow of it.)
		hold, acquireErr := restart.Acquire(ctx, client.Clientset, d.Namespace(), d.Ref, identity, clock.Real{})
		if acquireErr != nil {
			var held *restart.HeldError
			if !errors.As(acquireErr, &held) {
				// The update may have landed though its answer did not (a signal during it): a hold of
				// this session's is taken back.
				cleanup, cancel := context.WithTimeout(context.Background(), restoreTimeout)
				defer cancel()
				_, _ = restart.RestoreWorkloadAs(cleanup, client.Clientset, d.Namespace(), d.Ref, restart.RestoreOptions{Identity: identity})
			}
			return acquireErr
		}
		restored := guardOf(ctx).changing(d.Namespace(), d.Ref)
		leftChanged = true
		var heartbeat sync.WaitGroup
		var lose context.CancelCauseFunc
		ctx, lose = context.WithCancelCause(ctx)
		heartbeatCtx, stopBeating := context.WithCancel(ctx)
		heartbeat.Go(func() {
			if err := hold.Run(heartbeatCtx); err != nil {
				lose(err) // another kindling holds it now: this session must stop
			}
		})
		endHeartbeat = func() {
			stopBeating()
			heartbeat.Wait()
		}
		defer func() {
			endHeartbeat()
			if lost := context.Cause(ctx); lost != nil && !errors.Is(lost, context.Canceled) {
				err = errors.Join(err, lost)
			}
			// The strategy's restore (run before this, deferred later) ended the hold with the unwrap;
			// the hold of a strategy that changed nothing else ends here.
			end := hold.Release
			if o.once && o.keep && err == nil {
				end = hold.Keep
			}
			endCtx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
			defer cancel()
			if endErr := end(endCtx); endErr != nil {
				err = errors.Join(err, fmt.Errorf("could not release %s: %v; run `%s` to clean up", d, endErr, restoreCommand(d.Namespace(), d.Ref)))
				return
			}
			restored()
			leftChanged = restoreFailed || o.once && o.keep && err == nil
		}()
	}
	pods, err := client.WatchPods(ctx, d, container)
	if err != nil {
		return err
	}
	targets := &podTargets{client: client, pods: pods, container: container, warm: warm}
	defer targets.Close()
	// Detection needs a running pod, so --restart waits for one like --once does.
	if err := waitForPod(ctx, out, targets, o.once || o.restart || o.dryRun); err != nil {
		return err
	}
	if o.dryRun {
		return dryRun(ctx, out, o, d, targets, matcher)
	}
	cfg := engine.Config{
		Local:   heavy,
		Dest:    o.dest,
		Targets: targets,
		Out:     out,
		Report:  rep.engineReport,
		Verbose: rep.r.verbose,
		// (A nil channel for --once: no key reaches it.)
		RestartNow: in.restartNow,
		Keys:       in.keys,
		Clock:      clock.Real{},
	}
	// Excluded paths are left out of the container's manifest too, so they are never deleted there
	// (an image's own node_modules stays).
	// The matcher's rules also prune the directories they exclude whole in the container's own listing.
	remoteExcludes := transport.ExcludingRules(matcher)
	var rp *restartPlan
	if o.restart {
		var planErr error
		rp, planErr = planRestart(ctx, out, o, client, d, targets, identity)
		if rp != nil && rp.buildDir != "" {
			defer os.RemoveAll(rp.buildDir)
		}
		if planErr != nil {
			return planErr
		}
		if err := ctx.Err(); err != nil {
			return err // stopped during detection: nothing was changed
		}
		if rp.local != nil {
			cfg.Local, remoteExcludes = rp.local, transport.Excluding(rp.remoteExcluded)
		}
		cfg.Dest = rp.dest
		// From the moment Prepare may change the template, every way out restores it (a --keep that
		// succeeded aside).
		defer func() {
			endHeartbeat()
			if o.once && o.keep && err == nil {
				fmt.Fprintf(out, "kindling: %s keeps the restart supervisor (--keep); `%s` undoes it\n", d, restoreCommand(d.Namespace(), d.Ref))
				return
			}
			restoreErr := restore(out, rp.strategy, d.Namespace(), d.Ref)
			restoreFailed = restoreErr != nil
			err = errors.Join(err, restoreErr)
		}()
		if err := rp.strategy.Prepare(ctx); err != nil {
			return err
		}
		// The wrapper rolls out new pods: sync those, not the ones on their way out.
		if err := client.WaitObserved(ctx, d.Ref); err != nil {
			return err
		}
		if err := awaitCreated(ctx, client, d, targets, rp); err != nil {
			return err
		}
		if o.once {
			if err := waitForReplicas(ctx, out, targets, d.Replicas()); err != nil {
				return err
			}
		}
		cfg.Reloader = reloader{strategy: rp.strategy, logs: containerLogTail(client, d.Namespace())}
	}
	warn := func(line string) { fmt.Fprintln(out, "kindling: "+line) }
	manifests := cacheDir("manifests")
	cfg.NewTransport = func(e transport.Execer) transport.Transport {
		return transport.NewShell(e, remoteExcludes, transport.Warn(warn), transport.Cache(manifests), transport.Progress(rep.r.progress.Meter()),
			transport.Compress(compressing(o.compress, client.Config.Host)), transport.KeepCopies(cacheDir("copies")))
	}
	if hooksCfg := hookConfig(o); hooksCfg.Install || len(hooksCfg.OnChange) > 0 {
		cfg.Hooks = hookRunner{cfg: hooksCfg, dest: cfg.Dest}
	}
	session := engine.New(cfg)
	fmt.Fprintf(out, "kindling: syncing %s → %s (container %s) %s in namespace %s\n", o.src, d, container, cfg.Dest, client.Namespace)
	started := startedEvent{Namespace: d.Namespace(), Container: container, Src: o.src, Dest: cfg.Dest,
		Strategy: "sync", Reason: "--restart not given: files are synced, the app is not reloaded"}
	if rp != nil {
		started.Runtime, started.Strategy, started.Reason = rp.detection.Runtime.Display, rp.strategy.Name(), describe(rp.detection)
	}
	rep.started(started)
	if o.once {
		return session.Once(ctx)
	}
	debouncer := watch.NewDebouncer(clock.Real{}, o.debounce, watch.MaxWait(o.debounce), in.changes)
	defer debouncer.Stop()
	err = session.Watch(ctx, debouncer.Batches())
	fmt.Fprintln(out, "kindling: stopped")
	return err
}

// compressing says whether large transfers are compressed (zstd or gzip, see transport.Compress):
// --compress on or off, or with auto when the API server is not on this machine (on loopback, bytes are
// free and the CPU is what a transfer costs).
func compressing(mode, server string) bool {
	if mode == "on" || mode == "off" {
		return mode == "on"
	}
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// hookConfig is what runs in the container between a sync and the reload (a compiled app syncs only
// its executable, which no install matches).
func hookConfig(o syncOptions) hooks.Config {
	c := hooks.Config{Install: !o.noInstall}
	for _, s := range o.onChange {
		oc, _ := hooks.ParseOnChange(s) // validated with the flags
		c.OnChange = append(c.OnChange, oc)
	}
	return c
}

// hookRunner is the engine's Hooks: the hooks package's choice, run in dest.
type hookRunner struct {
	cfg  hooks.Config
	dest string
}

func (h hookRunner) Run(ctx context.Context, c transport.Execer, changed []string, local plan.Tree) (string, error) {
	cmds := h.cfg.For(changed, local)
	if len(cmds) == 0 {
		return "", nil
	}
	r, err := hooks.Run(ctx, c, h.dest, cmds)
	return r.Note(), err
}

// heavyTreeWarning says once, after the first scan, which files make the tree heavy to sync (over
// 10 MB each, or over 20,000 files) and the excludes that would leave them out.
type heavyTreeWarning struct {
	engine.Local
	out  io.Writer
	said bool
}

func (h *heavyTreeWarning) Update(ctx context.Context, changed []string) (plan.Tree, transport.Source, error) {
	tree, source, err := h.Local.Update(ctx, changed)
	if tree != nil && !h.said {
		h.said = true
		for _, line := range largeWarning(plan.Oversized(tree)) {
			fmt.Fprintln(h.out, line)
		}
	}
	return tree, source, err
}

// watchExcluded is what the watcher ignores: the excludes, and a --build-output inside --src, which each
// build writes (a change to it would start the next build, forever).
func watchExcluded(excluded plan.Excluded, src, buildOutput string) plan.Excluded {
	if buildOutput == "" {
		return excluded
	}
	artifact := buildOutput
	if !filepath.IsAbs(artifact) {
		artifact = filepath.Join(src, artifact)
	}
	rel, err := filepath.Rel(src, artifact)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return excluded // outside --src: never watched
	}
	rel = filepath.ToSlash(rel)
	return func(p string, isDir bool) bool { return p == rel || excluded(p, isDir) }
}

// restoreTimeout bounds the clean-up on exit, which runs after the session's context has ended.
const restoreTimeout = 30 * time.Second

// restore undoes what the strategy changed in the cluster. It runs on a context of its own: the
// session's has ended when it runs.
func restore(out io.Writer, s restart.Strategy, namespace string, workload kube.Ref) error {
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	// The API server may be briefly unreachable (the reason the session ended, maybe): try again until
	// the time is up rather than leave the workload changed.
	wait := 100 * time.Millisecond
	for {
		err := s.Restore(ctx)
		if err == nil {
			break
		}
		var held *restart.HeldError
		if errors.As(err, &held) {
			return err // another kindling holds the workload now: it is its to restore
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("could not restore %s: %v; run `%s` to retry", workload, err, restoreCommand(namespace, workload))
		case <-time.After(wait):
			wait = min(2*wait, 2*time.Second)
		}
	}
	if s.Name() == "wrapper" {
		fmt.Fprintf(out, "kindling: restored %s to its original pod template\n", workload)
	}
	return nil
}

// repair restores a workload that a killed kindling left wrapped or held. A workload a live
// kindling holds is refused (*restart.HeldError); one kept with --keep is left as it is, with a note.
func repair(ctx context.Context, out io.Writer, client *cluster, d *kube.Workload) error {
	session, wrapped := restart.WrappedSession(d.Meta())
	holder := restart.HolderOf(d.Meta(), time.Now())
	if !wrapped && holder.Identity == "" {
		return nil
	}
	restored, err := restart.RestoreWorkload(ctx, client.Clientset, d.Namespace(), d.Ref)
	var held *restart.HeldError
	switch {
	case errors.As(err, &held) && held.Holder.Kept:
		fmt.Fprintln(out, "kindling: note: "+err.Error())
		return nil
	case err != nil:
		return err
	case restored:
		fmt.Fprintf(out, "kindling: restored %s, left wrapped by an earlier kindling (%s)\n", d, session)
	}
	return nil
}

// waitForPod waits until the Deployment has a pod to sync into. In watch mode it only says what it is
// waiting for; with --once it gives up after firstPodTimeout, naming what the pods are doing.
func waitForPod(ctx context.Context, out io.Writer, t *podTargets, once bool) error {
	deadline := time.After(firstPodTimeout)
	said := ""
	for {
		current, err := t.Current(ctx)
		if err != nil {
			return err
		}
		if len(current) > 0 {
			return nil
		}
		state := kube.DescribeNotRunning(t.pods.Pods(), t.container)
		if !once {
			if state != said {
				fmt.Fprintf(out, "kindling: waiting for a running pod of %s (%s)\n", t.pods.Workload(), state)
				said = state
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%s has no running pod after %s: %s", t.pods.Workload(), firstPodTimeout, state)
		case <-t.pods.Changed():
		}
	}
}

// waitForReplicas waits until n pods of the current revision run (--once syncs them all at once).
func waitForReplicas(ctx context.Context, out io.Writer, t *podTargets, n int) error {
	deadline := time.After(firstPodTimeout)
	for {
		current, err := t.Current(ctx)
		if err != nil {
			return err
		}
		if len(current) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%s: %d of %d pods run after %s: %s", t.pods.Workload(), len(current), n, firstPodTimeout,
				kube.DescribeNotRunning(t.pods.Pods(), t.container))
		case <-t.pods.Changed():
		case <-time.After(time.Second): // the current revision is read from the API, not the pod watch
		}
	}
}

// awaitCreated waits until the wrapped template's first pod exists, and fails at once with the cluster's
// reason when it refuses to create it (a Pod Security level, a quota): kindling would otherwise wait for
// pods that never come.
func awaitCreated(ctx context.Context, client *cluster, w *kube.Workload, t *podTargets, rp *restartPlan) error {
	for {
		label, revision, err := client.CurrentRevision(ctx, w)
		if err != nil {
			return err
		}
		if revision == "" {
			return nil // no revision to tell by (as for Runnable, every pod counts)
		}
		for _, p := range t.pods.Pods() {
			if p.Labels[label] == revision {
				return nil
			}
		}
		why, err := client.CreationRefused(ctx, w)
		if err != nil {
			return err
		}
		if why != "" {
			fix := "make the pod template meet what it names (for a Pod Security level: runAsNonRoot, allowPrivilegeEscalation: false, capabilities drop ALL, seccompProfile RuntimeDefault), or sync without --restart"
			if rp.seed != "" {
				fix = fmt.Sprintf("kindling's wrap gives user %s a copy of %s it can write; instead, make %[2]s that user's (fsGroup in the pod's securityContext, or chown in the Dockerfile) and sync without --restart, or %s",
					rp.seedUser, rp.seed, fix)
			}
			return fmt.Errorf("%s: the cluster refuses the pods of the wrapped template: %s; %s", w.Ref, why, fix)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.pods.Changed():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// cacheDir is kindling's directory name in the user's cache directory, "" when there is none. It keeps
// the hashes of the files kindling saw, locally and in containers, so that a kindling started again
// need not read every file of an unchanged tree.
func cacheDir(name string) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "kindling", name)
}

// localHashFile is the hash cache file of the source directory src, "" when there is no cache directory.
func localHashFile(src string) string {
	dir := cacheDir("local")
	abs, err := filepath.Abs(src)
	if dir == "" || err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, hex.EncodeToString(sum[:16]))
}

// podTargets adapts the pod watch to the engine's Targets. Each container gets one shell session for
// the whole run (a warm one when there is one), closed when the container goes away.
type podTargets struct {
	client    *cluster
	pods      *kube.PodWatch
	container string
	warm      *warmShells
	// toolbox says that the pods run kindling's commands on the toolbox (see restart.ToolboxExec).
	toolbox bool

	mu       sync.Mutex
	sessions map[string]*transport.Session // by engine.Container ID
}

func (t *podTargets) Changed() <-chan struct{} { return t.pods.Changed() }

func (t *podTargets) Current(ctx context.Context) ([]engine.Container, error) {
	pods, err := t.pods.Runnable(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions == nil {
		t.sessions = map[string]*transport.Session{}
	}
	out := make([]engine.Container, 0, len(pods))
	current := map[string]bool{}
	var synced []string
	for _, p := range pods {
		id := string(p.UID) + "/" + kube.ContainerStart(&p, t.container)
		current[id] = true
		s, ok := t.sessions[id]
		if !ok {
			if s = t.warm.take(p.Name, t.container); s == nil {
				var e transport.Execer = t.client.exec(p.Namespace, p.Name, t.container)
				if t.toolbox {
					e = restart.ToolboxExec{Execer: e}
				}
				s = transport.NewSession(e)
				s.Open()
			}
			t.sessions[id] = s
		}
		out = append(out, engine.Container{ID: id, Exec: s})
		synced = append(synced, warmKey(p.Name, t.container))
	}
	t.warm.closeRest()
	t.warm.remember(synced)
	for id, s := range t.sessions {
		if !current[id] {
			s.Close()
			delete(t.sessions, id)
		}
	}
	return out, nil
}

// Close ends every session.
func (t *podTargets) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.sessions {
		s.Close()
		delete(t.sessions, id)
	}
}
