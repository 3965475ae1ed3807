package runtime

import "regexp"

// row is one runtime with what recognises it. The order of the table is the order of preference: when
// several processes (or commands, or source markers) match, the earliest row wins. Auto-reloading runtimes
// and servers come first (a container running nginx and php-fpm serves PHP), compiled languages before
// interpreted ones for source markers (a Go service with a package.json for its assets is Go), C last
// (a Makefile with a few *.c files is the weakest sign).
type row struct {
	Runtime
	// programs are the executable names that run this runtime, lower case, matched with and without a
	// version suffix (python3.12 → python).
	programs []string
	// hosts are servers that run this runtime in-process when the source tree has its markers (Apache with
	// mod_php): plain Apache and Apache serving PHP look the same in the process table.
	hosts []string
	// markers are globs relative to --src whose presence says the source is for this runtime.
	markers []string
	// refines names the runtime whose process this one runs as, when the source markers say so (a JVM
	// process running Kotlin).
	refines string
	// workerOpts set the number of worker processes; with one worker the server runs as single instead.
	workerOpts []string
	single     *variant
	// reloadOpts make the program watch the files and restart itself: syncing is enough.
	reloadOpts []string
	// interp describes an interpreter's command line, to find the script or module it runs.
	interp *interp
	// spare says which command lines of the interpreter the supervisor may start ahead of a restart.
	spare *spareGrammar
}

// variant replaces a row's strategy when the server runs in a mode that cannot reload the usual way; the
// row's notes are about the usual way and do not apply.
type variant struct {
	Strategy Strategy
	Signal   string
	Why      string
}

// interp is the command-line grammar of an interpreter, enough to find the script it runs.
type interp struct {
	// valueOpts take the next argument as their value (python -W ignore app.py).
	valueOpts []string
	// codeOpts run inline code: no script follows (python -c, ruby -e).
	codeOpts []string
	// moduleOpt runs a module as the program (python -m uvicorn): the module is classified like a program.
	moduleOpt string
	// exts are the extensions of the interpreter's scripts, dropped before the script's name is looked up
	// (node …/nodemon.js → nodemon).
	exts []string
}

const opcacheNote = "if opcache.validate_timestamps is off, PHP will not see synced files; kindling cannot fix " +
	"that; set opcache.validate_timestamps=1 for development"

var table = []row{
	// Auto-reload: PHP compiles each script per request (or revalidates its opcache), so a synced file is
	// served by the next request without a restart.
	{Runtime: Runtime{Name: "php", Display: "PHP", Language: "php", Strategy: None,
		Why:     "PHP reads each script on the request that runs it, so synced files are served without a restart",
		Notes:   []string{opcacheNote},
		Aliases: []string{"php-fpm", "mod_php", "fpm"}},
		programs: []string{"php-fpm", "php-cgi", "php", "frankenphp"},
		hosts:    []string{"apache2", "apache", "httpd", "apachectl", "apache2ctl"},
		markers:  []string{"composer.json", "*.php", "public/*.php"}},
	// nodemon watches the tree and restarts its child on every change.
	{Runtime: Runtime{Name: "nodemon", Display: "nodemon", Language: "javascript", Strategy: None,
		Why: "nodemon watches the files and restarts the app itself, so syncing is enough"},
		programs: []string{"nodemon"}},

	// Signal reload. Each signal is the server's documented graceful reload.
	// gunicorn docs, "Signal Handling": HUP reloads the configuration, starts new workers and gracefully
	// shuts down the old ones; without preload_app the new workers load the new code. The master stays.
	{Runtime: Runtime{Name: "gunicorn", Display: "gunicorn", Language: "python", Strategy: Signal, Signal: "HUP",
		Why:   "HUP makes the gunicorn master start new workers with the new code and stop the old ones gracefully",
		Notes: []string{"with preload_app the workers reuse the master's code on HUP; kindling then falls back to restarting it"}},
		programs:   []string{"gunicorn"},
		reloadOpts: []string{"--reload"}},
	// uvicorn's multi-process manager (--workers N, uvicorn ≥ 0.30) restarts its workers on HUP; a single
	// uvicorn process has no handler and HUP would end it, so it runs under the wrapper instead.
	{Runtime: Runtime{Name: "uvicorn", Display: "uvicorn", Language: "python", Strategy: Signal, Signal: "HUP",
		Why:   "HUP makes the uvicorn supervisor (--workers above 1) restart its workers one by one with the new code",
		Notes: []string{"uvicorn before 0.30 has no HUP handler and exits on HUP; kindling verifies the reload and falls back to the wrapper"}},
		programs:   []string{"uvicorn"},
		workerOpts: []string{"--workers"},
		single: &variant{Strategy: Wrapper,
			Why: "a single uvicorn process does not reload on HUP, so the wrapper restarts it"},
		reloadOpts: []string{"--reload"}},
	// Puma docs, "Signals" and "Restart": in cluster mode USR1 is a phased (rolling) restart of the workers,
	// zero downtime; in single mode USR2 re-executes the process in place (hot restart, same PID, the
	// listening socket kept).
	{Runtime: Runtime{Name: "puma", Display: "Puma", Language: "ruby", Strategy: Signal, Signal: "USR1",
		Why:   "USR1 makes Puma in cluster mode replace its workers one at a time (phased restart) with the new code",
		Notes: []string{"with preload_app! Puma turns a phased restart into a full hot restart"}},
		programs:   []string{"puma"},
		workerOpts: []string{"-w", "--workers"},
		single: &variant{Strategy: Signal, Signal: "USR2",
			Why: "USR2 makes Puma in single mode re-execute itself in place (hot restart), keeping its socket"}},
	// Unicorn docs, SIGNALS: HUP reloads the config and gracefully restarts all workers, which load the new
	// code unless preload_app is true. Unicorn always runs a master and workers.
	{Runtime: Runtime{Name: "unicorn", Display: "Unicorn", Language: "ruby", Strategy: Signal, Signal: "HUP",
		Why:   "HUP makes the Unicorn master gracefully restart all workers, which load the new code",
		Notes: []string{"with preload_app true the workers keep the old code on HUP; kindling then falls back to restarting it"}},
		programs: []string{"unicorn", "unicorn_rails"}},
	// nginx docs, "Controlling nginx": HUP re-reads the configuration and replaces the workers gracefully.
	// Static files are read per request anyway; HUP also picks up a synced nginx.conf.
	{Runtime: Runtime{Name: "nginx", Display: "nginx", Language: "static", Strategy: Signal, Signal: "HUP",
		Why: "HUP makes the nginx master re-read its configuration and replace its workers gracefully"},
		programs: []string{"nginx", "openresty"}},
	// Apache httpd docs, "Stopping and Restarting": USR1 is the graceful restart; children finish their
	// current request before they are replaced.
	{Runtime: Runtime{Name: "httpd", Display: "Apache httpd", Language: "static", Strategy: Signal, Signal: "USR1",
		Why:     "USR1 makes the Apache parent restart gracefully: children finish their request, then are replaced",
		Aliases: []string{"apache", "apache2"}},
		programs: []string{"httpd", "apache2", "apache", "apachectl", "apache2ctl"}},

	// Build: compiled locally for the node's platform, the artifact synced and restarted by the supervisor.
	// A compiled program has no tell-tale name, so source markers find most of them.
	{Runtime: Runtime{Name: "go", Display: "Go", Language: "go", Strategy: Build,
		Why: "Go compiles to one static binary: kindling cross-compiles it locally, syncs it and restarts it", Aliases: []string{"golang"}},
		markers: []string{"go.mod", "*.go"}},
	{Runtime: Runtime{Name: "rust", Display: "Rust", Language: "rust", Strategy: Build,
		Why: "kindling builds the Rust binary locally with cargo for the node's target, syncs it and restarts it", Aliases: []string{"rs", "cargo"}},
		markers: []string{"Cargo.toml"}},
	{Runtime: Runtime{Name: "zig", Display: "Zig", Language: "zig", Strategy: Build,
		Why: "kindling builds the Zig binary locally for the node's target, syncs it and restarts it"},
		markers: []string{"build.zig", "*.zig"}},
	{Runtime: Runtime{Name: "dotnet", Display: "C#/.NET", Language: "dotnet", Strategy: Build,
		Why:     "kindling publishes a self-contained .NET executable locally for the node's RID, syncs it and restarts it",
		Aliases: []string{".net", "net", "csharp", "c#", "cs", "fsharp", "f#"}},
		programs: []string{"dotnet"},
		markers:  []string{"*.csproj", "*.fsproj", "*.vbproj", "*.sln"}},
	{Runtime: Runtime{Name: "kotlin", Display: "Kotlin", Language: "kotlin", Strategy: Build,
		Why: "kindling builds the jar locally (JVM bytecode runs on any platform), syncs it and restarts the JVM", Aliases: []string{"kt"}},
		programs: []string{"kotlin"},
		markers:  []string{"*.kt", "src/main/kotlin"},
		refines:  "java"},
	{Runtime: Runtime{Name: "java", Display: "Java", Language: "java", Strategy: Build,
		Why: "kindling builds the jar locally (JVM bytecode runs on any platform), syncs it and restarts the JVM", Aliases: []string{"jvm"}},
		programs: []string{"java"},
		markers:  []string{"pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "*.java", "src/main/java"}},

	// Wrapper: interpreters load the code at start, so the supervisor restarts them after a sync.
	{Runtime: Runtime{Name: "elixir", Display: "Elixir", Language: "elixir", Strategy: Wrapper,
		Why: "the BEAM loads compiled modules at start, so the wrapper restarts it", Aliases: []string{"ex", "mix", "iex"}},
		// elixir, mix and iex are scripts that exec the Erlang VM: a running app shows as beam.smp.
		programs: []string{"elixir", "mix", "iex", "beam.smp", "beam", "erlexec"},
		markers:  []string{"mix.exs", "*.ex", "*.exs"}},
	{Runtime: Runtime{Name: "ruby", Display: "Ruby", Language: "ruby", Strategy: Wrapper,
		Why: "Ruby loads the code at start, so the wrapper restarts it", Aliases: []string{"rb"}},
		programs: []string{"ruby", "rails", "rackup"},
		markers:  []string{"Gemfile", "config.ru", "*.rb"},
		interp: &interp{valueOpts: []string{"-I", "-r", "-C", "-E", "-e", "-F", "--encoding"}, codeOpts: []string{"-e"},
			exts: []string{".rb"}}},
	{Runtime: Runtime{Name: "python", Display: "Python", Language: "python", Strategy: Wrapper,
		Why: "Python loads the code at start, so the wrapper restarts it", Aliases: []string{"py", "python3"}},
		programs: []string{"python", "pypy"},
		markers:  []string{"requirements.txt", "pyproject.toml", "setup.py", "Pipfile", "*.py"},
		interp: &interp{valueOpts: []string{"-c", "-m", "-W", "-X", "--check-hash-based-pycs"}, codeOpts: []string{"-c"},
			moduleOpt: "-m", exts: []string{".py"}},
		// Not -I or -P (the script's directory stays off sys.path), -x (skips a line), -i (interactive).
		spare: &spareGrammar{script: "spare.py", moduleOpt: "-m", valueOpts: []string{"-W", "-X"},
			safeOpts: regexp.MustCompile(`^-([uBOEsSqbdvR]+|[WX].+)$`)}},
	{Runtime: Runtime{Name: "deno", Display: "Deno", Language: "javascript", Strategy: Wrapper,
		Why: "Deno loads the code at start, so the wrapper restarts it"},
		programs:   []string{"deno"},
		markers:    []string{"deno.json", "deno.jsonc"},
		reloadOpts: []string{"--watch"}},
	{Runtime: Runtime{Name: "bun", Display: "Bun", Language: "javascript", Strategy: Wrapper,
		Why: "Bun loads the code at start, so the wrapper restarts it"},
		programs:   []string{"bun"},
		markers:    []string{"bun.lockb", "bun.lock", "bunfig.toml"},
		reloadOpts: []string{"--watch", "--hot"}},
	{Runtime: Runtime{Name: "node", Display: "Node.js", Language: "javascript", Strategy: Wrapper,
		Why: "Node.js loads the code at start, so the wrapper restarts it", Aliases: []string{"nodejs", "js", "javascript", "typescript", "ts"}},
		programs:   []string{"node", "nodejs"},
		markers:    []string{"package.json"},
		reloadOpts: []string{"--watch", "--watch-path"},
		interp: &interp{valueOpts: []string{"-r", "--require", "--import", "--loader", "--experimental-loader", "-e", "--eval",
			"-p", "--print", "-C", "--conditions", "--title", "--input-type"},
			codeOpts: []string{"-e", "--eval", "-p", "--print"}, exts: []string{".js", ".cjs", ".mjs"}},
		// Options that only set a limit or a warning. Not preloads (-r, --import, --loader: they would run
		// before the sync), not --inspect (its port is the running app's until the restart), not --env-file
		// (read at start).
		spare: &spareGrammar{script: "spare.cjs", safeOpts: regexp.MustCompile(`^--(no-warnings|trace-warnings|` +
			`no-deprecation|trace-deprecation|throw-deprecation|pending-deprecation|enable-source-maps|expose-gc|` +
			`abort-on-uncaught-exception|trace-uncaught|preserve-symlinks|preserve-symlinks-main|` +
			`(max-old-space-size|max-semi-space-size|stack-size|stack-trace-limit|max-http-header-size|` +
			`unhandled-rejections|dns-result-order)=[^ ]+)$`)}},
	{Runtime: Runtime{Name: "perl", Display: "Perl", Language: "perl", Strategy: Wrapper,
		Why: "Perl compiles the code at start, so the wrapper restarts it", Aliases: []string{"pl"}},
		programs: []string{"perl"},
		markers:  []string{"cpanfile", "Makefile.PL", "*.pl", "*.pm"},
		interp:   &interp{valueOpts: []string{"-e", "-E", "-I", "-M", "-m"}, codeOpts: []string{"-e", "-E"}, exts: []string{".pl"}}},
	{Runtime: Runtime{Name: "lua", Display: "Lua", Language: "lua", Strategy: Wrapper,
		Why: "Lua loads the code at start, so the wrapper restarts it"},
		programs: []string{"lua", "luajit"},
		markers:  []string{"*.rockspec", "*.lua"},
		interp:   &interp{valueOpts: []string{"-e", "-l"}, codeOpts: []string{"-e"}, exts: []string{".lua"}}},
	{Runtime: Runtime{Name: "julia", Display: "Julia", Language: "julia", Strategy: Wrapper,
		Why: "Julia compiles the code at start, so the wrapper restarts it", Aliases: []string{"jl"}},
		programs: []string{"julia"},
		markers:  []string{"Project.toml", "*.jl"},
		interp: &interp{valueOpts: []string{"-e", "-E", "-L", "-t", "--threads", "-p", "--procs", "-J", "--sysimage"},
			codeOpts: []string{"-e", "-E"}, exts: []string{".jl"}}},
	// Rscript execs R itself (…/R/bin/exec/R --file=app.R), so both names are R.
	{Runtime: Runtime{Name: "r", Display: "R", Language: "r", Strategy: Wrapper,
		Why: "R evaluates the script at start, so the wrapper restarts it", Aliases: []string{"rscript"}},
		programs: []string{"rscript", "r"},
		markers:  []string{"DESCRIPTION", "renv.lock", "*.R", "*.r"},
		interp:   &interp{valueOpts: []string{"-e"}, codeOpts: []string{"-e"}, exts: []string{".r"}}},

	{Runtime: Runtime{Name: "cpp", Display: "C++", Language: "cpp", Strategy: Build,
		Why: "kindling compiles the C++ program locally for the node's platform, syncs it and restarts it", Aliases: []string{"c++", "cxx"}},
		markers: []string{"*.cpp", "*.cc", "*.cxx", "src/*.cpp", "src/*.cc"}},
	{Runtime: Runtime{Name: "c", Display: "C", Language: "c", Strategy: Build,
		Why: "kindling compiles the C program locally for the node's platform, syncs it and restarts it"},
		markers: []string{"*.c", "src/*.c"}},
}
