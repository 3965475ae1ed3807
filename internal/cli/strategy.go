package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/build"
	"github.com/kindling-dev/kindling/internal/engine"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/restart"
	"github.com/kindling-dev/kindling/internal/runtime"
	"github.com/kindling-dev/kindling/internal/transport"
)

// holdFirstStart is how long a wrapped app waits for its first sync before starting anyway (so a pod
// never hangs when kindling is gone).
const holdFirstStart = 60 * time.Second

// restartPlan is how a session with --restart syncs and reloads, chosen from the detected runtime.
type restartPlan struct {
	detection runtime.Detection
	strategy  restart.Strategy
	// local, dest and remoteExcluded replace the directory sync for compiled apps: only the artifact
	// is synced, next to the running executable.
	local          engine.Local
	dest           string
	remoteExcluded plan.Excluded
	// buildDir holds this session's build artifacts; the caller removes it.
	buildDir string
	// seed and seedUser: the directory the wrap gives the container's user as a copy (see seedFor).
	seed, seedUser string
}

// planRestart detects the runtime in a running pod of the workload and builds the strategy for it.
// Nothing in the cluster changes until the caller runs Prepare.
func planRestart(ctx context.Context, out io.Writer, o syncOptions, client *cluster, d *kube.Workload, t *podTargets, identity string) (*restartPlan, error) {
	pods, err := t.pods.Runnable(ctx)
	if err != nil {
		return nil, err
	}
	var procs []runtime.Process
	var e transport.Execer
	toolbox, appUser := "", ""
	if len(pods) > 0 {
		e = client.exec(pods[0].Namespace, pods[0].Name, t.container)
		if _, err := transport.NewShell(e).Probe(ctx); errors.Is(err, transport.ErrNoShell) {
			// No shell (distroless, scratch): kindling brings its own, and reads the processes beside the app.
			fmt.Fprintf(out, "kindling: %s has no shell: the restart supervisor and kindling's commands run on a static BusyBox from %s (an init container; the app keeps its own argv, env and user)\n", e.Target(), o.helperImage)
			toolbox, e = o.helperImage, nil
			raw, err := client.RunBeside(ctx, &pods[0], t.container, toolbox, appUserScript+runtime.ProcScript)
			if err != nil {
				return nil, err
			}
			uid, table, _ := bytes.Cut(raw, []byte("\n"))
			appUser = string(uid)
			procs, _ = runtime.ParseProcs(table)
		} else if err != nil {
			return nil, err
		} else {
			procs = processTable(ctx, e)
		}
		if err := ctx.Err(); err != nil {
			return nil, err // an empty table because kindling is stopping, not one to detect from
		}
	}
	spec := containerSpec(d, t.container)
	det, err := runtime.Detect(runtime.Input{Procs: procs, Command: spec.Command, Args: spec.Args, Src: o.src, Override: o.language})
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "kindling: "+describe(det))
	for _, n := range det.Notes {
		fmt.Fprintln(out, "kindling: note: "+n)
	}
	p := &restartPlan{detection: det, dest: o.dest}
	strategy := det.Runtime.Strategy
	if o.buildCmd != "" {
		strategy = runtime.Build
	}
	if toolbox != "" && (strategy == runtime.Signal || strategy == runtime.None) {
		// A signal, or a sync alone, needs a shell in the container: only the wrapped pod has one.
		fmt.Fprintf(out, "kindling: the supervisor restarts %s instead (%s needs a shell in the container)\n", det.Runtime.Display, strategy)
		strategy = runtime.Wrapper
	}
	if strategy == runtime.Build {
		if err := p.planBuild(ctx, out, o, client, det, pods); err != nil {
			return p, err
		}
	}
	seed, user, err := seedFor(ctx, out, e, appUser, d, t.container, p.dest)
	if err != nil {
		return p, err
	}
	p.seed, p.seedUser = seed, user
	t.toolbox = toolbox != ""
	var pid1 []string
	for _, proc := range procs {
		if proc.PID == 1 {
			pid1 = proc.Argv
		}
	}
	wrapper := func() restart.Strategy {
		return &restart.Wrapper{Client: client.Clientset, Namespace: d.Namespace(), Workload: d.Ref,
			Options: restart.WrapOptions{Container: t.container, ProcArgv: pid1, Hold: holdFirstStart, Session: identity,
				Toolbox: toolbox, Seed: seed}}
	}
	// The wrapper runs pid 1's argv when the template has no command: refuse where that would skip an
	// entrypoint script's set-up.
	checkEntrypoint := func(ctx context.Context, e transport.Execer) error {
		if e == nil {
			return nil
		}
		return restart.CheckEntrypoint(ctx, e, spec, pid1)
	}
	switch strategy {
	case runtime.None:
		note := ""
		if len(det.Notes) > 0 {
			note = det.Notes[0]
		}
		p.strategy = restart.None{Note: note}
	case runtime.Signal:
		if det.Process == nil {
			fmt.Fprintf(out, "kindling: no running %s master to signal; restarting it with the supervisor instead\n", det.Runtime.Display)
			p.strategy = wrapper()
			break
		}
		p.strategy = &fallback{out: out, current: &restart.Signal{Signal: det.Runtime.Signal, Master: restart.MasterPID(det.Process.PID)},
			wrapper: wrapper, check: checkEntrypoint}
	case runtime.Wrapper, runtime.Build:
		if err := checkEntrypoint(ctx, e); err != nil {
			return nil, err
		}
		p.strategy = wrapper()
	}
	return p, nil
}

// seedFor is the directory to give the container's user as a seeded emptyDir (see restart.WrapOptions.Seed):
// dest when that user cannot write it, else "". Without a shell to ask (e nil), appUser is the app's user as
// its process showed it, and any user but root is taken as unable to write an image's directory. A dest on
// a volume of the pod's is left to the volume's owner: an emptyDir cannot take its place.
func seedFor(ctx context.Context, out io.Writer, e transport.Execer, appUser string, d *kube.Workload, container, dest string) (seed, user string, err error) {
	if e == nil {
		if appUser == "" || appUser == "0" {
			return "", "", nil
		}
		user = appUser
	} else {
		var stdout bytes.Buffer
		if err := e.Exec(ctx, []string{"sh", "-c", writableScript, "kindling", dest}, nil, &stdout, io.Discard); err != nil {
			return "", "", fmt.Errorf("%s: could not tell whether %s is writable: %v", e.Target(), dest, err)
		}
		verdict, id, _ := strings.Cut(strings.TrimSpace(stdout.String()), " ")
		if verdict != "unwritable" {
			return "", "", nil
		}
		user = id
	}
	for _, m := range containerSpec(d, container).VolumeMounts {
		if mp := path.Clean(m.MountPath); path.Clean(dest) == mp || strings.HasPrefix(path.Clean(dest), strings.TrimSuffix(mp, "/")+"/") {
			return "", "", usagef("user %s cannot write %s, on the volume %q (mounted at %s): give the user write access to it (fsGroup in the pod's securityContext), or pick another --dest",
				user, dest, m.Name, m.MountPath)
		}
	}
	fmt.Fprintf(out, "kindling: user %s cannot write %s: each new pod gets %s as an emptyDir filled with the image's copy by an init container that runs as that user\n", user, dest, dest)
	return dest, user, nil
}

// appUserScript prints the real user ID of the container's PID 1 (its app) on a line of its own.
const appUserScript = `while read -r key uid _; do [ "$key" = Uid: ] && echo "$uid" && break; done </proc/1/status
`

// writableScript prints "writable UID" when the container's user may write $1 (or create it), else
// "unwritable UID".
const writableScript = `uid=$(id -u 2>/dev/null || echo "?")
d=$1
while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done
if [ -w "$d" ]; then echo "writable $uid"; else echo "unwritable $uid"; fi`

// planBuild makes the session sync a locally built artifact instead of the source tree.
func (p *restartPlan) planBuild(ctx context.Context, out io.Writer, o syncOptions, client *cluster, det runtime.Detection, pods []corev1.Pod) error {
	platform := build.Host()
	if len(pods) > 0 {
		goos, arch, err := client.NodePlatform(ctx, &pods[0])
		if err != nil {
			fmt.Fprintf(out, "kindling: %v; building for %s\n", err, platform)
		} else {
			platform = build.Platform{OS: goos, Arch: arch}
		}
	}
	tmp, err := os.MkdirTemp("", "kindling-build-")
	if err != nil {
		return err
	}
	p.buildDir = tmp
	var spec build.Spec
	if o.buildCmd != "" {
		spec = build.Custom(o.buildCmd, o.buildOutput, o.src)
	} else if spec, err = build.Default(det.Runtime.Language, o.src, platform, tmp); err != nil {
		return usageError{err}
	}
	target, err := artifactTarget(det.Process, o.dest, spec)
	if err != nil {
		return err
	}
	name := path.Base(target)
	fmt.Fprintf(out, "kindling: building for %s with `%s`; the artifact replaces %s\n", platform, commandLine(spec), target)
	p.local = &engine.Artifact{Spec: spec, Builder: build.Local{}, Language: det.Runtime.Language, Name: name, Out: out}
	p.dest = path.Dir(target)
	p.remoteExcluded = func(rel string, _ bool) bool { return rel != name }
	return nil
}

// artifactTarget is where the artifact lands: over the running executable, else in --dest. It is written
// into its directory like any sync into --dest, staging directory and all, so that directory must pass
// --dest's checks.
func artifactTarget(running *runtime.Process, dest string, spec build.Spec) (string, error) {
	target := ""
	if running != nil {
		target = runtime.ExecBinaryPath(*running)
	}
	if target == "" {
		target = path.Join(dest, filepath.Base(spec.Output))
		if spec.Collect != "" {
			target = path.Join(dest, filepath.Base(spec.Collect))
		}
	}
	if dir := path.Clean(path.Dir(target)); !path.IsAbs(target) || dir == "/" {
		return "", usagef("the app's executable %s is not inside a directory kindling may write to (it writes only below a directory other than /): "+
			"move it in the image (e.g. to /app/%s) or set the container's command to run it from --dest", target, path.Base(target))
	}
	return path.Clean(target), nil
}

func commandLine(spec build.Spec) string {
	if len(spec.Command) == 3 && spec.Command[0] == "sh" && spec.Command[1] == "-c" {
		return spec.Command[2]
	}
	line := ""
	for i, a := range append(append([]string{}, spec.Env...), spec.Command...) {
		if i > 0 {
			line += " "
		}
		line += a
	}
	return line
}

// fallback runs a signal reload and, the first time a server does not reload on its signal, switches to
// the supervisor for good and says so once.
type fallback struct {
	out     io.Writer
	mu      sync.Mutex
	current restart.Strategy
	wrapper func() restart.Strategy
	// check refuses a wrap that would lose an entrypoint script's set-up.
	check   func(context.Context, transport.Execer) error
	wrapped bool
}

func (f *fallback) Name() string { return f.strategy().Name() }

func (f *fallback) strategy() restart.Strategy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.current
}

func (f *fallback) Prepare(ctx context.Context) error { return f.strategy().Prepare(ctx) }
func (f *fallback) Restore(ctx context.Context) error { return f.strategy().Restore(ctx) }

func (f *fallback) Reload(ctx context.Context, c transport.Execer) (restart.Result, error) {
	res, err := f.strategy().Reload(ctx, c)
	var noReload *restart.NoReloadError
	if !errors.As(err, &noReload) {
		return res, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.wrapped {
		fmt.Fprintf(f.out, "kindling: %v; switching to the restart supervisor (the Deployment rolls out once)\n", err)
		if err := f.check(ctx, c); err != nil {
			return restart.Result{}, err
		}
		w := f.wrapper()
		if err := w.Prepare(ctx); err != nil {
			return restart.Result{}, err
		}
		f.current, f.wrapped = w, true
	}
	return restart.Result{Method: "supervisor", Note: "new pods are synced and started as they come up"}, nil
}

// reloader adapts a restart strategy to the engine.
type reloader struct {
	strategy restart.Strategy
	// logs returns the last lines of a container's log (by its exec target), nil when it cannot.
	logs func(ctx context.Context, target string) []string
}

func (r reloader) Reload(ctx context.Context, c transport.Execer) (string, error) {
	res, err := r.strategy.Reload(ctx, c)
	var crash *restart.CrashError
	if errors.As(err, &crash) && r.logs != nil {
		crash.Output = r.logs(ctx, c.Target())
	}
	if err != nil {
		return "", err
	}
	s := res.Method
	switch res.Method {
	case "restart":
		s = "restarted"
	case "none":
		s = "no restart needed"
	}
	if res.ReadyAfter > 0 {
		s += fmt.Sprintf(", serving after %s", res.ReadyAfter.Round(time.Millisecond))
	}
	return s, nil
}

// crashLines is how many lines of its log a crashed app's report shows: the error, and where it is.
const crashLines = 4

// containerLogTail reads the last lines of a container's log, given its exec target ("pod/NAME/CONTAINER"):
// the app's own words on why it exited. It is nil when the log cannot be read (no get on pods/log).
func containerLogTail(client *cluster, namespace string) func(ctx context.Context, target string) []string {
	return func(ctx context.Context, target string) []string {
		parts := strings.Split(target, "/")
		if len(parts) != 3 || parts[0] != "pod" {
			return nil
		}
		tail := int64(crashLines + 1) // the supervisor's own line about the exit comes last
		raw, err := client.Clientset.CoreV1().Pods(namespace).GetLogs(parts[1], &corev1.PodLogOptions{Container: parts[2], TailLines: &tail}).DoRaw(ctx)
		if err != nil {
			return nil
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
			if !strings.HasPrefix(l, runtime.SupervisorMarker+": ") && l != "" {
				lines = append(lines, l)
			}
		}
		return lines[max(0, len(lines)-crashLines):]
	}
}
