package runtime

import (
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// toolKind says what a program that is not itself a runtime does with the rest of its command line.
type toolKind int

const (
	// prefix runs its remaining arguments as the program, in the same process (env, exec, bundle exec).
	prefix toolKind = iota
	// shell runs a script; the app is one of its children (sh -c '…').
	shell
	// initSystem starts and reaps the app as its child (tini, dumb-init, supervisord, kindling's supervisor).
	initSystem
	// scriptRunner runs a package.json script in a child shell (npm start, yarn run dev).
	scriptRunner
)

// tool describes a program that stands between PID 1 and the app.
type tool struct {
	kind toolKind
	// language is the interpreter that runs the tool as a script (bundle is Ruby: `ruby …/bin/bundle exec`).
	language string
	// subcommands, when set, are the words after the tool that make it run the rest (bundle exec, uv run).
	subcommands []string
	// valueOpts take the next argument as their value.
	valueOpts []string
	// operands are words between the options and the program (gosu USER program).
	operands int
	// assignments: NAME=value words precede the program (env).
	assignments bool
	// splitOpts hold a whole command line in their value (env -S 'python3 -u').
	splitOpts []string
	// runsArgs: an init's arguments are the program it runs (tini -- app), not a directory or config
	// (s6-svscan /etc/s6).
	runsArgs bool
}

var tools = map[string]tool{
	"env":     {kind: prefix, valueOpts: []string{"-u", "--unset", "-C", "--chdir"}, assignments: true, splitOpts: []string{"-S", "--split-string"}},
	"exec":    {kind: prefix, valueOpts: []string{"-a"}},
	"nice":    {kind: prefix, valueOpts: []string{"-n", "--adjustment"}},
	"nohup":   {kind: prefix},
	"setsid":  {kind: prefix},
	"stdbuf":  {kind: prefix, valueOpts: []string{"-i", "-o", "-e"}},
	"gosu":    {kind: prefix, operands: 1},
	"su-exec": {kind: prefix, operands: 1},
	"busybox": {kind: prefix},
	"bundle":  {kind: prefix, language: "ruby", subcommands: []string{"exec"}},
	"bundler": {kind: prefix, language: "ruby", subcommands: []string{"exec"}},
	"rbenv":   {kind: prefix, subcommands: []string{"exec"}},
	"npx":     {kind: prefix, language: "javascript", valueOpts: []string{"-p", "--package"}},
	"poetry":  {kind: prefix, language: "python", subcommands: []string{"run"}},
	"pipenv":  {kind: prefix, language: "python", subcommands: []string{"run"}},
	"pdm":     {kind: prefix, language: "python", subcommands: []string{"run"}},
	"hatch":   {kind: prefix, language: "python", subcommands: []string{"run"}},
	"uv":      {kind: prefix, language: "python", subcommands: []string{"run"}, valueOpts: []string{"--with", "--python", "-p", "--project", "--directory"}},

	"sh":   {kind: shell},
	"bash": {kind: shell},
	"dash": {kind: shell},
	"ash":  {kind: shell},
	"zsh":  {kind: shell},
	"ksh":  {kind: shell},
	"mksh": {kind: shell},

	"tini":         {kind: initSystem, valueOpts: []string{"-p", "-e"}, runsArgs: true},
	"tini-static":  {kind: initSystem, valueOpts: []string{"-p", "-e"}, runsArgs: true},
	"docker-init":  {kind: initSystem, valueOpts: []string{"-p", "-e"}, runsArgs: true},
	"dumb-init":    {kind: initSystem, valueOpts: []string{"-r", "--rewrite"}, runsArgs: true},
	"catatonit":    {kind: initSystem, runsArgs: true},
	"s6-svscan":    {kind: initSystem},
	"s6-supervise": {kind: initSystem},
	"runsvdir":     {kind: initSystem},
	"runsv":        {kind: initSystem},
	"supervisord":  {kind: initSystem, language: "python"},
	// pause is PID 1 of a pod that shares its process namespace; the containers' processes are its peers.
	"pause": {kind: initSystem},

	"npm":  {kind: scriptRunner, language: "javascript", subcommands: []string{"run", "run-script", "start", "test"}},
	"pnpm": {kind: scriptRunner, language: "javascript", subcommands: []string{"run", "start", "test"}},
	"yarn": {kind: scriptRunner, language: "javascript", subcommands: []string{"run", "start", "test"}},
}

// match is what one command line turned out to be.
type match struct {
	// row is the runtime it runs; nil when no row knows the program.
	row *row
	// argv is the command that matched, after prefixes, launchers and interpreters were peeled off
	// (["gunicorn", "app:app"] for `python3 -m gunicorn app:app`).
	argv []string
	// opts are the arguments searched for worker and reload options: an interpreter's own options, or all
	// arguments of any other program.
	opts []string
	// via names what stands in front of argv when that is not obvious ("apache2 serving PHP files").
	via string
	// wrapper is set when the command is a shell, init or supervisor: the app is among its children.
	wrapper string
	// inner are the commands a wrapper was given (the calls of an sh -c script, tini's program), used when
	// its children cannot be seen.
	inner [][]string
}

// classifier recognises command lines. It reads source markers lazily, through hasMarkers.
type classifier struct {
	markers *markerCache
}

// classify tells what argv runs. Wrappers are not looked into: see resolve.
func (c classifier) classify(argv []string) match {
	argv = splitTitle(argv)
	var fallback *match // the interpreter running a script that may itself be a known tool
	for len(argv) > 0 {
		name, bare := programName(argv[0])
		if isSupervisor(argv) {
			return match{argv: argv, wrapper: "kindling's supervisor", inner: nonEmpty(supervisedArgv(argv))}
		}
		if t, ok := lookupTool(name, bare); ok {
			switch t.kind {
			case prefix:
				rest, ok := t.skip(argv[1:])
				if !ok {
					break // `bundle install`: not a launcher use; fall through to the row lookup
				}
				argv = rest
				continue
			case shell:
				return match{argv: argv, wrapper: "a shell", inner: shellCommands(argv[1:])}
			case initSystem:
				m := match{argv: argv, wrapper: "an init process"}
				if t.runsArgs {
					rest, _ := t.skip(argv[1:])
					m.inner = nonEmpty(rest)
				}
				return m
			case scriptRunner:
				if script, ok := t.script(argv[1:]); ok {
					return match{argv: argv, wrapper: "a package script runner", inner: c.markers.packageScript(script)}
				}
			}
		}
		r := c.rowFor(name, bare)
		if r == nil {
			if fallback != nil {
				return *fallback
			}
			return match{argv: argv}
		}
		if r.interp == nil {
			m := match{row: r, argv: argv, opts: argv[1:]}
			if slices.Contains(r.hosts, name) || slices.Contains(r.hosts, bare) {
				m.via = argv[0] + " serving " + r.Display + " files"
			}
			return m
		}
		opts, next := r.interp.split(argv[1:])
		fallback = &match{row: r, argv: argv, opts: opts}
		if next == nil || !c.runsAs(next[0], r) {
			return *fallback
		}
		argv = next
	}
	if fallback != nil {
		return *fallback
	}
	return match{argv: argv}
}

// runsAs says whether a script or module given to interpreter r is a known program of r's language
// (python …/bin/gunicorn, node …/.bin/nodemon, ruby …/bin/bundle), to be classified in its place.
func (c classifier) runsAs(script string, r *row) bool {
	name, bare := programName(trimExt(script, r.interp.exts))
	if t, ok := lookupTool(name, bare); ok && t.language == r.Language {
		return true
	}
	s := c.rowFor(name, bare)
	return s != nil && s != r && s.Language == r.Language
}

// runs reports whether the program of this name (with or without its version suffix) is r's.
func (r *row) runs(name, bare string) bool {
	return slices.Contains(r.programs, name) || slices.Contains(r.programs, bare)
}

// rowFor finds the row whose program has this name, or whose host serves it with its markers present.
func (c classifier) rowFor(name, bare string) *row {
	for i := range table {
		r := &table[i]
		if r.runs(name, bare) {
			return r
		}
		if (slices.Contains(r.hosts, name) || slices.Contains(r.hosts, bare)) && c.markers.found(r) != "" {
			return r
		}
	}
	return nil
}

// resolve classifies argv and, when it is a wrapper, the commands it was given, recursively, returning
// the best match (by table order) and the last command no row knows (a bare binary).
func (c classifier) resolve(argv []string) (best match, unknown []string) {
	m := c.classify(argv)
	if m.wrapper == "" {
		if m.row == nil {
			return match{}, m.argv
		}
		return m, nil
	}
	for _, inner := range m.inner {
		b, u := c.resolve(inner)
		if better(b.row, best.row) {
			best = b
		}
		if u != nil {
			unknown = u // the last one: a script's long-running command comes after its set-up steps
		}
	}
	return best, unknown
}

// better says whether a is preferred over b: any row beats none, an earlier row beats a later one.
func better(a, b *row) bool {
	if a == nil {
		return false
	}
	return b == nil || rank(a) < rank(b)
}

func rank(r *row) int {
	for i := range table {
		if &table[i] == r {
			return i
		}
	}
	return len(table)
}

// versionSuffix is the version a distribution appends to an executable's name: python3.12, ruby3.2,
// lua5.4, perl5.36.0, php-fpm8.2, apache2.
var versionSuffix = regexp.MustCompile(`^(.*[a-z])-?[0-9]+(\.[0-9]+)*$`)

// programName returns the lower-case base name of an executable, and the same without its version
// suffix. A process title's trailing colon ("nginx:") and a login shell's leading dash go too.
func programName(arg0 string) (name, bare string) {
	name = strings.ToLower(path.Base(arg0))
	name = strings.TrimPrefix(strings.TrimSuffix(name, ":"), "-")
	bare = name
	if m := versionSuffix.FindStringSubmatch(name); m != nil {
		bare = m[1]
	}
	return name, bare
}

func lookupTool(name, bare string) (tool, bool) {
	if t, ok := tools[name]; ok {
		return t, true
	}
	t, ok := tools[bare]
	return t, ok
}

// splitTitle splits a process title. A process that rewrites its title (nginx, php-fpm, Puma, gunicorn with
// setproctitle) leaves one string with spaces where the kernel had NUL-separated arguments.
func splitTitle(argv []string) []string {
	if len(argv) == 1 && strings.Contains(argv[0], " ") {
		return strings.Fields(argv[0])
	}
	return argv
}

func trimExt(script string, exts []string) string {
	ext := strings.ToLower(path.Ext(script))
	if slices.Contains(exts, ext) {
		return strings.TrimSuffix(script, path.Ext(script))
	}
	return script
}

func nonEmpty(argv []string) [][]string {
	if len(argv) == 0 {
		return nil
	}
	return [][]string{argv}
}

// isSupervisor recognises kindling's supervisor, run directly or as a script by sh.
func isSupervisor(argv []string) bool {
	return strings.HasSuffix(argv[0], SupervisorMarker) || len(argv) > 1 && strings.HasSuffix(argv[1], SupervisorMarker)
}

// supervisedArgv returns the app's argv from the supervisor's command line
// (`kindling-supervisor run [options] -- ARGV`): everything after the first "--", or else everything
// after the supervisor's path.
func supervisedArgv(argv []string) []string {
	i := 0
	if !strings.HasSuffix(argv[0], SupervisorMarker) {
		i = 1
	}
	rest := argv[i+1:]
	if j := slices.Index(rest, "--"); j >= 0 {
		return rest[j+1:]
	}
	return rest
}

// skip drops a tool's own options, operands and subcommand from args and returns the program it runs.
// ok is false when a tool with subcommands was given another one (bundle install).
func (t tool) skip(args []string) (rest []string, ok bool) {
	if len(t.subcommands) > 0 {
		i := skipOptions(args, t.valueOpts)
		if i >= len(args) || !slices.Contains(t.subcommands, args[i]) {
			return nil, false
		}
		args = args[i+1:]
	}
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			return args[1:], true
		case t.assignments && isAssignment(a):
			args = args[1:]
		case slices.Contains(t.splitOpts, a) && len(args) > 1:
			args = append(strings.Fields(args[1]), args[2:]...)
		case hasValuePrefix(a, t.splitOpts):
			_, v, _ := strings.Cut(a, "=")
			args = append(strings.Fields(v), args[1:]...)
		case slices.Contains(t.valueOpts, a):
			args = args[min(2, len(args)):]
		case strings.HasPrefix(a, "-") && len(a) > 1:
			args = args[1:]
		default:
			return args[min(t.operands, len(args)):], true
		}
	}
	return nil, true
}

// script returns the package.json script a runner was asked to run (npm start → "start", yarn dev → "dev").
func (t tool) script(args []string) (string, bool) {
	i := skipOptions(args, t.valueOpts)
	if i >= len(args) {
		return "", false
	}
	switch args[i] {
	case "start", "test":
		return args[i], true
	case "run", "run-script":
		j := i + 1 + skipOptions(args[i+1:], nil)
		if j < len(args) {
			return args[j], true
		}
		return "", false
	}
	// yarn and pnpm run a script named directly: yarn dev.
	return args[i], !slices.Contains(t.subcommands, "run-script")
}

// skipOptions returns the index of the first argument that is not an option or an option's value.
func skipOptions(args, valueOpts []string) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if slices.Contains(valueOpts, args[i]) {
			i++
		}
		i++
	}
	return i
}

func isAssignment(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	return ok && name != "" && !strings.ContainsAny(name, "-/ ")
}

func hasValuePrefix(arg string, opts []string) bool {
	for _, o := range opts {
		if strings.HasPrefix(o, "--") && strings.HasPrefix(arg, o+"=") {
			return true
		}
	}
	return false
}

// split separates an interpreter's own options from what it runs. next is the module (python -m) or the
// script with its arguments; nil when the interpreter runs inline code or reads stdin.
func (in *interp) split(args []string) (opts, next []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return args[:i], args[i+1:]
		case a == in.moduleOpt && in.moduleOpt != "":
			if i+1 < len(args) {
				return args[:i], args[i+1:]
			}
			return args, nil
		case slices.Contains(in.codeOpts, a):
			return args, nil
		case slices.Contains(in.valueOpts, a):
			i++
		case !strings.HasPrefix(a, "-") || a == "-":
			return args[:i], args[i:]
		}
	}
	return args, nil
}

// shellCommands returns the simple commands of a shell's -c script. A shell running a script file has
// none: only its children tell what it runs.
func shellCommands(args []string) [][]string {
	script, ok := shellScript(args)
	if !ok {
		return nil
	}
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "")
	if err != nil {
		// Not a script the parser understands; its words are still the best guess at the command.
		return nonEmpty(strings.Fields(script))
	}
	var calls [][]string
	syntax.Walk(file, func(n syntax.Node) bool {
		if call, ok := n.(*syntax.CallExpr); ok && len(call.Args) > 0 {
			argv := make([]string, len(call.Args))
			for i, w := range call.Args {
				argv[i] = wordText(w)
			}
			if !utilities[argv[0]] {
				calls = append(calls, argv)
			}
		}
		return true
	})
	return calls
}

// utilities are builtins and tools a start script runs before the app, or a supervisor runs beside it
// (its polling sleep); none of them is the app.
var utilities = map[string]bool{
	"cd": true, "export": true, "set": true, "unset": true, "echo": true, "printf": true, "test": true, "[": true,
	"true": true, "false": true, ":": true, ".": true, "source": true, "trap": true, "wait": true, "sleep": true,
	"umask": true, "ulimit": true, "mkdir": true, "cp": true, "mv": true, "rm": true, "ln": true, "chmod": true,
	"chown": true, "touch": true, "cat": true, "sed": true, "envsubst": true, "read": true, "shift": true,
}

// shellScript finds the script of `sh [options] -c script [name args…]`; -c may be grouped (-ec, -lc).
func shellScript(args []string) (string, bool) {
	hasC := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "+o":
			i++
		case a == "--":
			if hasC && i+1 < len(args) {
				return args[i+1], true
			}
			return "", false
		case len(a) > 1 && (a[0] == '-' || a[0] == '+'):
			hasC = hasC || a[0] == '-' && !strings.HasPrefix(a, "--") && strings.Contains(a, "c")
		default:
			return a, hasC
		}
	}
	return "", false
}

// wordText returns a shell word's value as far as it is literal; expansions keep their source text.
func wordText(w *syntax.Word) string {
	if lit := w.Lit(); lit != "" {
		return lit
	}
	var b strings.Builder
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				if lit, ok := q.(*syntax.Lit); ok {
					b.WriteString(lit.Value)
				} else {
					b.WriteString(nodeText(q))
				}
			}
		default:
			b.WriteString(nodeText(p))
		}
	}
	return b.String()
}

func nodeText(n syntax.Node) string {
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, n); err != nil {
		return ""
	}
	return b.String()
}

// workers returns the worker count an option in opts sets (-w 4, -w4, --workers=4, --workers 4), or 0.
func workers(opts, names []string) int {
	for i, a := range opts {
		for _, n := range names {
			var v string
			switch {
			case a == n && i+1 < len(opts):
				v = opts[i+1]
			case strings.HasPrefix(a, n+"="):
				v = a[len(n)+1:]
			case len(n) == 2 && strings.HasPrefix(a, n) && len(a) > 2:
				v = a[2:]
			default:
				continue
			}
			if w, err := strconv.Atoi(v); err == nil {
				return w
			}
		}
	}
	return 0
}

// hasOption says whether opts contain one of names, alone or with an "=value".
func hasOption(opts, names []string) bool {
	for _, a := range opts {
		for _, n := range names {
			if a == n || strings.HasPrefix(a, n+"=") {
				return true
			}
		}
	}
	return false
}

// short renders argv for a message, cut to a readable length.
func short(argv []string) string {
	s := strings.Join(argv, " ")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "…"
	}
	return "`" + s + "`"
}

// spareGrammar is what the supervisor needs to start an interpreter ahead of a restart (see Spare): the
// command lines on which that changes nothing the app can tell.
type spareGrammar struct {
	// script is kindling's file for the interpreter, run in place of the app's script.
	script string
	// safeOpts matches the options that may precede the app's script; any other option means no spare.
	safeOpts *regexp.Regexp
	// valueOpts are safe options whose value is the next argument (python -W ignore).
	valueOpts []string
	// moduleOpt runs a module instead of a script (python -m app); the spare script goes before it.
	moduleOpt string
}

// Spare tells how the restart supervisor can keep a spare of the interpreter that runs argv, started
// ahead and waiting, so that a restart does not wait for the interpreter to start: the spare runs argv
// with script (kindling's, named by file) inserted at index at. ok is false for programs without a spare
// script and for command lines on which a spare could behave differently from a fresh start.
func Spare(argv []string) (script string, at int, ok bool) {
	if len(argv) < 2 {
		return "", 0, false
	}
	name, bare := programName(argv[0])
	var g *spareGrammar
	for i := range table {
		if table[i].runs(name, bare) {
			g = table[i].spare
			break
		}
	}
	if g == nil {
		return "", 0, false
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == g.moduleOpt && g.moduleOpt != "":
			if i+1 == len(argv) {
				return "", 0, false
			}
			return g.script, i, true
		case !strings.HasPrefix(a, "-"):
			return g.script, i, true
		case slices.Contains(g.valueOpts, a):
			i++
		case !g.safeOpts.MatchString(a):
			return "", 0, false
		}
	}
	return "", 0, false
}
