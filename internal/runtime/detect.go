package runtime

import (
	"fmt"
	"slices"
	"strings"
)

// Input is what detection looks at.
type Input struct {
	// Procs is the container's process table (ParseProcs); empty when it could not be read.
	Procs []Process
	// Command and Args are the target container's command and args from the Deployment.
	Command, Args []string
	// Src is the local source directory, searched for source markers (go.mod, package.json, …).
	Src string
	// Override is --language: it names the runtime, detection only finds its process.
	Override string
}

// Detection is the runtime found and why.
type Detection struct {
	// Runtime is the table row, with Strategy, Signal and Why adjusted to how the server runs (a single
	// uvicorn process cannot reload on HUP, Puma in single mode reloads on USR2).
	Runtime Runtime
	// Process is the process that runs the app and, for Signal, handles the signal: the master, found
	// below any shell or init. Nil when no running process was matched.
	Process *Process
	// Command is the argv that matched, after env, launchers, shells and interpreters were peeled off
	// (["gunicorn", "app:app"] for `sh -c 'exec python3 -m gunicorn app:app'`).
	Command []string
	// Reason says in one sentence what matched.
	Reason string
	// Notes are caveats for the user.
	Notes []string
}

// Detect finds the runtime: from the process table below PID 1's shells and inits, else from the
// container's command and args, else from source markers in Src. Override (--language) wins over all of
// them; the process table then only finds the process.
func Detect(in Input) (Detection, error) {
	d := detector{in: in, c: classifier{markers: newMarkerCache(in.Src)}, visited: map[int]bool{}}
	if in.Override != "" {
		rt, err := Lookup(in.Override)
		if err != nil {
			return Detection{}, err
		}
		return d.override(entry(rt.Name)), nil
	}
	return d.detect()
}

type detector struct {
	in Input
	c  classifier
	// visited guards the descent against a malformed table whose parent links form a cycle.
	visited map[int]bool
}

// found is a match with where it was seen.
type found struct {
	match
	proc *Process
	// reason is what led to it: "PID 1 `sh -c …` is a shell; its child 12 `gunicorn …`".
	reason string
}

func (d detector) detect() (Detection, error) {
	cands := d.fromProcs()
	best, app := pick(cands)
	var seen []string
	if best.row != nil {
		return d.result(best, best.reason+" matches "+best.row.Display, others(cands, best.row)), nil
	}
	if app.reason != "" {
		seen = append(seen, app.reason+" is no runtime kindling knows")
	} else if len(d.in.Procs) == 0 {
		seen = append(seen, "the process table could not be read")
	}

	if argv := d.command(); len(argv) > 0 {
		m, unknown := d.c.resolve(argv)
		f := found{match: m, reason: "the container's command " + short(argv)}
		if m.row != nil {
			if !slices.Equal(m.argv, argv) {
				f.reason += " runs " + short(m.argv) + ", which"
			}
			return d.result(f, strings.Join(append(seen, f.reason+" matches "+m.row.Display), "; "), nil), nil
		}
		seen = append(seen, f.reason+" is no runtime kindling knows")
		if app.proc == nil && unknown != nil {
			app = found{match: match{argv: unknown}}
		}
	}

	r, marker := d.c.markers.best()
	if r == nil {
		if len(seen) == 0 {
			seen = append(seen, "no process in the container is a runtime kindling knows")
		}
		where := "no --src was given"
		if d.in.Src != "" {
			where = d.in.Src + " has no source markers"
		}
		return Detection{}, fmt.Errorf("cannot tell the runtime: %s, and %s; pass --language (one of %s)",
			strings.Join(seen, "; "), where, strings.Join(Languages(), ", "))
	}
	app.row = r
	return d.result(app, strings.Join(append(seen, fmt.Sprintf("%s in %s says %s", marker, d.in.Src, r.Display)), "; "), nil), nil
}

// override uses the runtime the user named and looks for its process: the best process of that runtime,
// else the app's process whatever it looks like.
func (d detector) override(r *row) Detection {
	cands := d.fromProcs()
	_, app := pick(cands)
	for _, c := range cands {
		if c.row == r {
			app = c
			break
		}
	}
	reason := "--language " + d.in.Override
	if app.proc != nil {
		reason += "; the app runs as " + app.reason
	} else if argv := d.command(); len(argv) > 0 {
		m, unknown := d.c.resolve(argv)
		if m.row == nil {
			m = match{argv: unknown}
		}
		app.match = m
		reason += "; the container's command is " + short(argv)
	}
	app.row = r
	return d.result(app, reason, nil)
}

// fromProcs classifies the process table from PID 1 down through shells, inits and supervisors.
func (d detector) fromProcs() []found {
	if len(d.in.Procs) == 0 {
		return nil
	}
	root := d.in.Procs[0]
	if i := slices.IndexFunc(d.in.Procs, func(p Process) bool { return p.PID == 1 }); i >= 0 {
		root = d.in.Procs[i]
	}
	return d.walk(root, fmt.Sprintf("PID %d", root.PID))
}

// walk classifies p; when p is a wrapper it descends to its children, and only when none of them is a
// runtime it falls back to the commands the wrapper was given (a shell whose app has not started yet).
func (d detector) walk(p Process, label string) []found {
	if len(p.Argv) == 0 || d.visited[p.PID] {
		return nil // a zombie or a kernel thread has no argv
	}
	if _, bare := programName(p.Argv[0]); utilities[bare] {
		return nil
	}
	d.visited[p.PID] = true
	m := d.c.classify(p.Argv)
	here := label + " " + short(p.Argv)
	if m.wrapper == "" {
		return []found{{match: m, proc: &p, reason: here}}
	}
	here += " is " + m.wrapper
	var out []found
	for _, kid := range d.children(p) {
		out = append(out, d.walk(kid, fmt.Sprintf("%s; its child %d", here, kid.PID))...)
	}
	if best, _ := pick(out); best.row != nil {
		return out
	}
	for _, inner := range m.inner {
		if b, _ := d.c.resolve(inner); b.row != nil {
			out = append(out, found{match: b, reason: fmt.Sprintf("%s with no running child; it was told to run %s, which", here, short(b.argv))})
		}
	}
	return out
}

// children are p's child processes. In a pod that shares its process namespace pause is PID 1 and the
// containers' first processes are its peers (parent 0): they count as its children.
func (d detector) children(p Process) []Process {
	var kids []Process
	sharedNS := p.PID == 1 && len(p.Argv) > 0 && strings.HasSuffix(p.Argv[0], "pause")
	for _, q := range d.in.Procs {
		if q.PPID == p.PID && q.PID != p.PID || sharedNS && q.PPID == 0 && q.PID != p.PID {
			kids = append(kids, q)
		}
	}
	return kids
}

// command is the container's argv as the Deployment gives it; with args alone the image's entrypoint
// is unknown, and args are the best guess.
func (d detector) command() []string {
	return append(slices.Clip(d.in.Command), d.in.Args...)
}

// pick returns the best match by table order (ties: first seen, which is the parent of any worker) and
// the first process that is not a wrapper, the app when no row matched (a bare compiled binary).
func pick(cands []found) (best, app found) {
	for _, c := range cands {
		if better(c.row, best.row) {
			best = c
		}
		if app.proc == nil && c.proc != nil {
			app = c
		}
	}
	return best, app
}

// others notes further runtimes seen beside the chosen one.
func others(cands []found, chosen *row) []string {
	var names []string
	for _, c := range cands {
		if c.row != nil && c.row != chosen && !slices.Contains(names, c.row.Display) {
			names = append(names, c.row.Display)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("also running: %s; pass --language to choose another runtime", strings.Join(names, ", "))}
}

// result turns a match into a Detection: refines the runtime by source markers (a JVM running Kotlin),
// adjusts the strategy to how the server runs and collects the notes.
func (d detector) result(f found, reason string, notes []string) Detection {
	r := f.row
	for i := range table {
		if k := &table[i]; k.refines == r.Name && d.in.Override == "" {
			if marker := d.c.markers.found(k); marker != "" {
				reason += fmt.Sprintf("; %s in %s says %s", marker, d.in.Src, k.Display)
				r = k
			}
		}
	}
	rt := r.Runtime
	if f.via != "" {
		reason += " (" + f.via + ")"
	}
	switch {
	case hasOption(f.opts, r.reloadOpts):
		rt.Strategy, rt.Signal, rt.Notes = None, "", nil
		rt.Why = fmt.Sprintf("%s was started with %s: it restarts itself on changes, so syncing is enough",
			r.Display, strings.Join(r.reloadOpts, " or "))
	case r.single != nil:
		if n := max(workers(f.opts, r.workerOpts), d.workerProcesses(f.proc)); n <= 1 {
			rt.Strategy, rt.Signal, rt.Why, rt.Notes = r.single.Strategy, r.single.Signal, r.single.Why, nil
		}
	}
	notes = append(notes, rt.Notes...)
	if rt.Strategy == Signal && f.proc == nil {
		notes = append(notes, "no running "+r.Display+" process was seen, so there is no master to signal yet")
	}
	return Detection{Runtime: rt, Process: f.proc, Command: f.argv, Reason: reason, Notes: notes}
}

// workerProcesses counts the children of a server's master, which are its workers. Python's
// multiprocessing helpers (resource tracker, fork server) are not workers.
func (d detector) workerProcesses(master *Process) int {
	if master == nil {
		return 0
	}
	n := 0
	for _, kid := range d.children(*master) {
		if !strings.Contains(strings.Join(kid.Argv, " "), "multiprocessing.resource_tracker") &&
			!strings.Contains(strings.Join(kid.Argv, " "), "multiprocessing.forkserver") {
			n++
		}
	}
	return n
}
