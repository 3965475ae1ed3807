package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func proc(pid, ppid int, argv ...string) Process { return Process{PID: pid, PPID: ppid, Argv: argv} }

// srcWith makes a source directory holding the named files (a trailing "/" makes a directory);
// "name=content" gives a file content.
func srcWith(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		name, content, _ := strings.Cut(f, "=")
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type want struct {
	name     string
	strategy Strategy
	signal   string
	pid      int      // PID of Detection.Process; 0: no process
	command  []string // Detection.Command when set
	reason   string   // a substring of Reason
	note     string   // a substring of one note
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		procs   []Process
		command []string
		args    []string
		src     []string // files in --src; nil: no --src
		want    want
	}{
		// One row per runtime.
		{name: "php-fpm master title",
			procs: []Process{proc(1, 0, "php-fpm: master process (/usr/local/etc/php-fpm.conf)"),
				proc(7, 1, "php-fpm: pool www")},
			want: want{name: "php", strategy: None, pid: 1, note: "opcache.validate_timestamps"}},
		{name: "php-fpm with a version suffix, padded title",
			procs: []Process{proc(1, 0, "php-fpm8.2: master process (/etc/php/8.2/fpm/php-fpm.conf)")},
			want:  want{name: "php", strategy: None, pid: 1}},
		{name: "mod_php: apache2 with PHP sources",
			procs: []Process{proc(1, 0, "apache2", "-DFOREGROUND"), proc(9, 1, "apache2", "-DFOREGROUND")},
			src:   []string{"index.php"},
			want:  want{name: "php", strategy: None, pid: 1, reason: "apache2 serving PHP files", note: "opcache"}},
		{name: "nodemon from node_modules/.bin",
			procs: []Process{proc(1, 0, "node", "/app/node_modules/.bin/nodemon", "server.js"), proc(20, 1, "node", "server.js")},
			want:  want{name: "nodemon", strategy: None, pid: 1, command: []string{"/app/node_modules/.bin/nodemon", "server.js"}}},
		{name: "gunicorn under sh -c, master found below the shell",
			procs: []Process{
				proc(1, 0, "/bin/sh", "-c", "gunicorn app:app -w 2"),
				proc(12, 1, "/usr/local/bin/python3.12", "/usr/local/bin/gunicorn", "app:app", "-w", "2"),
				proc(13, 12, "/usr/local/bin/python3.12", "/usr/local/bin/gunicorn", "app:app", "-w", "2"),
				proc(14, 12, "/usr/local/bin/python3.12", "/usr/local/bin/gunicorn", "app:app", "-w", "2")},
			want: want{name: "gunicorn", strategy: Signal, signal: "HUP", pid: 12,
				reason: "PID 1 `/bin/sh -c gunicorn app:app -w 2` is a shell; its child 12 `/usr/local/bin/python3.12 /usr/local/bin/gunicorn app:app -w 2` matches gunicorn"}},
		{name: "gunicorn setproctitle title",
			procs: []Process{proc(1, 0, "gunicorn: master [app:app]"), proc(8, 1, "gunicorn: worker [app:app]")},
			want:  want{name: "gunicorn", strategy: Signal, signal: "HUP", pid: 1}},
		{name: "uvicorn multi-worker via python -m",
			procs: []Process{proc(1, 0, "python3", "-m", "uvicorn", "main:app", "--workers", "2")},
			want:  want{name: "uvicorn", strategy: Signal, signal: "HUP", pid: 1, command: []string{"uvicorn", "main:app", "--workers", "2"}}},
		{name: "uvicorn single process falls back to the wrapper",
			procs: []Process{proc(1, 0, "/usr/local/bin/python", "/usr/local/bin/uvicorn", "main:app", "--port", "8000")},
			want:  want{name: "uvicorn", strategy: Wrapper, pid: 1}},
		{name: "uvicorn workers counted from its children, helpers left out",
			procs: []Process{proc(1, 0, "uvicorn", "main:app"),
				proc(5, 1, "python", "-c", "from multiprocessing.resource_tracker import main;main(4)"),
				proc(6, 1, "python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)", "--multiprocessing-fork"),
				proc(7, 1, "python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)", "--multiprocessing-fork")},
			want: want{name: "uvicorn", strategy: Signal, signal: "HUP", pid: 1}},
		{name: "uvicorn --reload reloads itself",
			procs: []Process{proc(1, 0, "uvicorn", "main:app", "--reload", "--workers=4")},
			want:  want{name: "uvicorn", strategy: None, pid: 1}},
		{name: "puma cluster by its worker titles",
			procs: []Process{proc(1, 0, "puma 6.4.2 (tcp://0.0.0.0:9292) [app]"),
				proc(10, 1, "puma: cluster worker 0: 1 [app]"), proc(11, 1, "puma: cluster worker 1: 1 [app]")},
			want: want{name: "puma", strategy: Signal, signal: "USR1", pid: 1}},
		{name: "puma single mode",
			procs: []Process{proc(1, 0, "puma 6.4.2 (tcp://0.0.0.0:9292) [app]")},
			want:  want{name: "puma", strategy: Signal, signal: "USR2", pid: 1}},
		{name: "unicorn master title",
			procs: []Process{proc(1, 0, "unicorn master -c config/unicorn.rb"), proc(9, 1, "unicorn worker[0] -c config/unicorn.rb")},
			want:  want{name: "unicorn", strategy: Signal, signal: "HUP", pid: 1}},
		{name: "nginx master title",
			procs: []Process{proc(1, 0, "nginx: master process nginx -g daemon off;"), proc(30, 1, "nginx: worker process")},
			want:  want{name: "nginx", strategy: Signal, signal: "HUP", pid: 1}},
		{name: "httpd -DFOREGROUND",
			procs: []Process{proc(1, 0, "httpd", "-DFOREGROUND")},
			src:   []string{"index.html"},
			want:  want{name: "httpd", strategy: Signal, signal: "USR1", pid: 1}},
		{name: "apache2 started by apache2ctl",
			procs: []Process{proc(1, 0, "/bin/sh", "/usr/sbin/apache2ctl", "-D", "FOREGROUND"), proc(8, 1, "/usr/sbin/apache2", "-D", "FOREGROUND")},
			want:  want{name: "httpd", strategy: Signal, signal: "USR1", pid: 8}},
		{name: "Go: bare binary and go.mod",
			procs: []Process{proc(1, 0, "/app/server", "--port", "8080")},
			src:   []string{"go.mod", "main.go", "package.json"},
			want:  want{name: "go", strategy: Build, pid: 1, reason: "PID 1 `/app/server --port 8080` is no runtime kindling knows; go.mod in"}},
		{name: "Rust: bare binary and Cargo.toml",
			procs: []Process{proc(1, 0, "/usr/local/bin/hello")},
			src:   []string{"Cargo.toml", "src/main.rs"},
			want:  want{name: "rust", strategy: Build, pid: 1}},
		{name: "Zig: build.zig",
			procs: []Process{proc(1, 0, "/app/zapp")},
			src:   []string{"build.zig"},
			want:  want{name: "zig", strategy: Build, pid: 1}},
		{name: ".NET: dotnet app.dll",
			procs: []Process{proc(1, 0, "dotnet", "/app/Api.dll")},
			want:  want{name: "dotnet", strategy: Build, pid: 1}},
		{name: ".NET: a project file",
			procs: []Process{proc(1, 0, "/app/Api")},
			src:   []string{"Api.csproj"},
			want:  want{name: "dotnet", strategy: Build, pid: 1}},
		{name: "Java: java -jar",
			procs: []Process{proc(1, 0, "/opt/java/openjdk/bin/java", "-Xmx512m", "-jar", "/app/app.jar")},
			src:   []string{"pom.xml"},
			want:  want{name: "java", strategy: Build, pid: 1}},
		{name: "Kotlin: a JVM with Kotlin sources",
			procs: []Process{proc(1, 0, "java", "-jar", "/app/app.jar")},
			src:   []string{"build.gradle.kts", "src/main/kotlin/"},
			want:  want{name: "kotlin", strategy: Build, pid: 1, reason: "src/main/kotlin in"}},
		{name: "C++: sources and CMakeLists.txt",
			procs: []Process{proc(1, 0, "/app/svc")},
			src:   []string{"CMakeLists.txt", "main.cpp"},
			want:  want{name: "cpp", strategy: Build, pid: 1}},
		{name: "C: Makefile and *.c",
			procs: []Process{proc(1, 0, "/app/svc")},
			src:   []string{"Makefile", "main.c"},
			want:  want{name: "c", strategy: Build, pid: 1}},
		{name: "Elixir: the BEAM",
			procs: []Process{proc(1, 0, "/usr/local/lib/erlang/erts-14.2/bin/beam.smp", "--", "-root", "/usr/local/lib/erlang", "--", "-extra", "/usr/local/bin/mix", "run", "--no-halt")},
			want:  want{name: "elixir", strategy: Wrapper, pid: 1}},
		{name: "Ruby with a version suffix and -I",
			procs: []Process{proc(1, 0, "ruby3.2", "-Ilib", "-r", "bundler/setup", "app.rb")},
			want:  want{name: "ruby", strategy: Wrapper, pid: 1}},
		{name: "Python by absolute versioned path",
			procs: []Process{proc(1, 0, "/usr/local/bin/python3.12", "-u", "app.py")},
			want:  want{name: "python", strategy: Wrapper, pid: 1}},
		{name: "Python runs a module that is no server",
			procs: []Process{proc(1, 0, "python", "-m", "http.server", "8000")},
			want:  want{name: "python", strategy: Wrapper, pid: 1}},
		{name: "Deno run",
			procs: []Process{proc(1, 0, "deno", "run", "--allow-net", "main.ts")},
			want:  want{name: "deno", strategy: Wrapper, pid: 1}},
		{name: "Deno --watch reloads itself",
			procs: []Process{proc(1, 0, "deno", "run", "--watch", "main.ts")},
			want:  want{name: "deno", strategy: None, pid: 1}},
		{name: "Bun run",
			procs: []Process{proc(1, 0, "/usr/local/bin/bun", "run", "index.ts")},
			want:  want{name: "bun", strategy: Wrapper, pid: 1}},
		{name: "Bun --hot reloads itself",
			procs: []Process{proc(1, 0, "bun", "--hot", "index.ts")},
			want:  want{name: "bun", strategy: None, pid: 1}},
		{name: "Node with --inspect",
			procs: []Process{proc(1, 0, "node", "--inspect", "server.js")},
			want:  want{name: "node", strategy: Wrapper, pid: 1}},
		{name: "Node --watch reloads itself",
			procs: []Process{proc(1, 0, "node", "--watch", "server.js")},
			want:  want{name: "node", strategy: None, pid: 1}},
		{name: "Node: --watch after the script belongs to the app",
			procs: []Process{proc(1, 0, "node", "server.js", "--watch")},
			want:  want{name: "node", strategy: Wrapper, pid: 1}},
		{name: "Perl with a version suffix",
			procs: []Process{proc(1, 0, "/usr/bin/perl5.36.0", "-Ilib", "app.pl")},
			want:  want{name: "perl", strategy: Wrapper, pid: 1}},
		{name: "Lua 5.4",
			procs: []Process{proc(1, 0, "lua5.4", "app.lua")},
			want:  want{name: "lua", strategy: Wrapper, pid: 1}},
		{name: "Julia",
			procs: []Process{proc(1, 0, "julia", "--project=.", "-t", "4", "app.jl")},
			want:  want{name: "julia", strategy: Wrapper, pid: 1}},
		{name: "Rscript",
			procs: []Process{proc(1, 0, "Rscript", "app.R")},
			want:  want{name: "r", strategy: Wrapper, pid: 1}},
		{name: "R as Rscript execs it",
			procs: []Process{proc(1, 0, "/usr/lib/R/bin/exec/R", "--no-echo", "--no-restore", "--file=app.R")},
			want:  want{name: "r", strategy: Wrapper, pid: 1}},

		// Wrappers at PID 1.
		{name: "tini, then sh -c, then python",
			procs: []Process{proc(1, 0, "/sbin/tini", "--", "sh", "-c", "python app.py"),
				proc(7, 1, "sh", "-c", "python app.py"), proc(8, 7, "python", "app.py")},
			want: want{name: "python", strategy: Wrapper, pid: 8,
				reason: "PID 1 `/sbin/tini -- sh -c python app.py` is an init process; its child 7 `sh -c python app.py` is a shell; its child 8 `python app.py` matches Python"}},
		{name: "dumb-init",
			procs: []Process{proc(1, 0, "/usr/bin/dumb-init", "--single-child", "--", "node", "server.js"), proc(6, 1, "node", "server.js")},
			want:  want{name: "node", strategy: Wrapper, pid: 6}},
		{name: "catatonit",
			procs: []Process{proc(1, 0, "/usr/libexec/catatonit/catatonit", "--", "ruby", "app.rb"), proc(2, 1, "ruby", "app.rb")},
			want:  want{name: "ruby", strategy: Wrapper, pid: 2}},
		{name: "s6-svscan and s6-supervise",
			procs: []Process{proc(1, 0, "s6-svscan", "/etc/s6"), proc(10, 1, "s6-supervise", "nginx"),
				proc(11, 10, "nginx: master process /usr/sbin/nginx -g daemon off;")},
			want: want{name: "nginx", strategy: Signal, signal: "HUP", pid: 11}},
		{name: "kindling's supervisor run by sh",
			procs: []Process{proc(1, 0, "/bin/sh", "/.kindling/"+SupervisorMarker, "--", "python3", "-m", "gunicorn", "app:app"),
				proc(9, 1, "python3", "-m", "gunicorn", "app:app"), proc(10, 9, "python3", "-m", "gunicorn", "app:app")},
			want: want{name: "gunicorn", strategy: Signal, signal: "HUP", pid: 9, reason: "is kindling's supervisor; its child 9"}},
		{name: "kindling's supervisor as argv[0]",
			procs: []Process{proc(1, 0, "/.kindling/"+SupervisorMarker, "--", "node", "server.js"), proc(3, 1, "node", "server.js")},
			want:  want{name: "node", strategy: Wrapper, pid: 3}},
		{name: "supervisor polling with sleep beside a Go binary",
			procs: []Process{proc(1, 0, "/bin/sh", "/.kindling/"+SupervisorMarker, "run", "--grace", "5", "--", "/app/server"),
				proc(300, 1, "sleep", "0.05"), proc(301, 1, "/app/server")},
			src:  []string{"go.mod"},
			want: want{name: "go", strategy: Build, pid: 301}},
		{name: "supervisor whose app has not started: its argv tells",
			procs: []Process{proc(1, 0, "/bin/sh", "/.kindling/"+SupervisorMarker, "run", "--hold", "30", "--", "bundle", "exec", "puma", "-w", "2")},
			want:  want{name: "puma", strategy: Signal, signal: "USR1", reason: "with no running child; it was told to run `puma -w 2`"}},
		{name: "shell with no child yet",
			procs: []Process{proc(1, 0, "sh", "-c", "cd /app && exec gunicorn app:app")},
			want:  want{name: "gunicorn", strategy: Signal, signal: "HUP", note: "no running gunicorn process"}},
		{name: "bash -lc",
			procs: []Process{proc(1, 0, "/bin/bash", "-lc", "node server.js"), proc(4, 1, "node", "server.js")},
			want:  want{name: "node", strategy: Wrapper, pid: 4}},
		{name: "supervisord runs nginx and php-fpm: PHP wins",
			procs: []Process{proc(1, 0, "/usr/bin/python3", "/usr/bin/supervisord", "-n"),
				proc(8, 1, "nginx: master process /usr/sbin/nginx -g daemon off;"),
				proc(9, 1, "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)")},
			want: want{name: "php", strategy: None, pid: 9, note: "also running: nginx"}},
		{name: "pause as PID 1 in a shared process namespace",
			procs: []Process{proc(1, 0, "/pause"), proc(7, 0, "node", "server.js")},
			want:  want{name: "node", strategy: Wrapper, pid: 7}},
		{name: "npm start runs node in a child shell",
			procs: []Process{proc(1, 0, "npm", "start"), proc(18, 1, "sh", "-c", "node server.js"), proc(19, 18, "node", "server.js")},
			want:  want{name: "node", strategy: Wrapper, pid: 19}},
		{name: "npx nodemon",
			procs: []Process{proc(1, 0, "node", "/usr/local/bin/npx", "nodemon", "server.js"), proc(20, 1, "sh", "-c", "nodemon server.js")},
			want:  want{name: "nodemon", strategy: None, pid: 1}},

		// No process table: the container's command and args.
		{name: "command: sh -c with set-up steps",
			command: []string{"sh", "-c", "cd /app && pip install -r requirements.txt && exec python3 -m gunicorn app:app -w 4"},
			want: want{name: "gunicorn", strategy: Signal, signal: "HUP", command: []string{"gunicorn", "app:app", "-w", "4"},
				reason: "the process table could not be read; the container's command"}},
		{name: "command: env prefix",
			command: []string{"/usr/bin/env", "python3", "app.py"},
			want:    want{name: "python", strategy: Wrapper, command: []string{"python3", "app.py"}}},
		{name: "command: env with assignments and options",
			command: []string{"env", "-u", "DEBUG", "FOO=1", "node", "x.js"},
			want:    want{name: "node", strategy: Wrapper, command: []string{"node", "x.js"}}},
		{name: "command: env -S",
			command: []string{"/usr/bin/env", "-S", "ruby -w", "app.rb"},
			want:    want{name: "ruby", strategy: Wrapper, command: []string{"ruby", "-w", "app.rb"}}},
		{name: "command: bundle exec puma, single",
			command: []string{"bundle", "exec", "puma", "-C", "config/puma.rb"},
			want:    want{name: "puma", strategy: Signal, signal: "USR2"}},
		{name: "command: bundle exec puma, cluster",
			command: []string{"bundle", "exec", "puma"}, args: []string{"--workers=3"},
			want: want{name: "puma", strategy: Signal, signal: "USR1"}},
		{name: "command: npx nodemon",
			command: []string{"npx", "nodemon", "server.js"},
			want:    want{name: "nodemon", strategy: None}},
		{name: "command: gosu then uvicorn with workers",
			command: []string{"gosu", "app", "uvicorn", "main:app", "--workers", "4"},
			want:    want{name: "uvicorn", strategy: Signal, signal: "HUP"}},
		{name: "command: tini then mix",
			command: []string{"tini", "-g", "--", "mix", "phx.server"},
			want:    want{name: "elixir", strategy: Wrapper}},
		{name: "command: npm start uses package.json",
			command: []string{"npm", "start"},
			src:     []string{`package.json={"scripts":{"start":"node --enable-source-maps dist/main.js"}}`},
			want:    want{name: "node", strategy: Wrapper, command: []string{"node", "--enable-source-maps", "dist/main.js"}}},
		{name: "command: npm run dev is nodemon",
			command: []string{"npm", "run", "dev"},
			src:     []string{`package.json={"scripts":{"dev":"nodemon src/index.js"}}`},
			want:    want{name: "nodemon", strategy: None}},
		{name: "args only, image entrypoint unknown",
			args: []string{"gunicorn", "app:app"},
			want: want{name: "gunicorn", strategy: Signal, signal: "HUP"}},
		{name: "command: bare Go binary",
			command: []string{"/app/gateway"},
			src:     []string{"go.mod"},
			want:    want{name: "go", strategy: Build, command: []string{"/app/gateway"}, reason: "is no runtime kindling knows; go.mod in"}},
		{name: "process table with an unknown binary wins over the command",
			procs:   []Process{proc(1, 0, "/app/gateway")},
			command: []string{"/app/gateway"},
			src:     []string{"go.mod"},
			want:    want{name: "go", strategy: Build, pid: 1, command: []string{"/app/gateway"}}},

		// Source markers alone.
		{name: "markers: PHP beats package.json (Laravel)",
			src:  []string{"composer.json", "package.json"},
			want: want{name: "php", strategy: None}},
		{name: "markers: Gemfile beats package.json (Rails)",
			src:  []string{"Gemfile", "package.json"},
			want: want{name: "ruby", strategy: Wrapper}},
		{name: "markers: deno.json",
			src:  []string{"deno.json"},
			want: want{name: "deno", strategy: Wrapper}},
		{name: "markers: bun.lockb beats package.json",
			src:  []string{"bun.lockb", "package.json"},
			want: want{name: "bun", strategy: Wrapper}},
		{name: "markers: requirements.txt",
			src:  []string{"requirements.txt"},
			want: want{name: "python", strategy: Wrapper}},
		{name: "markers: mix.exs",
			src:  []string{"mix.exs"},
			want: want{name: "elixir", strategy: Wrapper}},
		{name: "markers: fsproj",
			src:  []string{"App.fsproj"},
			want: want{name: "dotnet", strategy: Build}},
		{name: "markers: lua, perl, julia, r",
			src:  []string{"cpanfile"},
			want: want{name: "perl", strategy: Wrapper}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Procs: tt.procs, Command: tt.command, Args: tt.args}
			if tt.src != nil {
				in.Src = srcWith(t, tt.src...)
			}
			got, err := Detect(in)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			checkDetection(t, got, tt.want)
		})
	}
}

func checkDetection(t *testing.T, got Detection, w want) {
	t.Helper()
	if got.Runtime.Name != w.name || got.Runtime.Strategy != w.strategy || got.Runtime.Signal != w.signal {
		t.Errorf("runtime = %s/%s/%q, want %s/%s/%q (reason: %s)", got.Runtime.Name, got.Runtime.Strategy,
			got.Runtime.Signal, w.name, w.strategy, w.signal, got.Reason)
	}
	pid := 0
	if got.Process != nil {
		pid = got.Process.PID
	}
	if pid != w.pid {
		t.Errorf("process = %d, want %d (reason: %s)", pid, w.pid, got.Reason)
	}
	if w.command != nil && !slices.Equal(got.Command, w.command) {
		t.Errorf("command = %q, want %q", got.Command, w.command)
	}
	if !strings.Contains(got.Reason, w.reason) {
		t.Errorf("reason = %q, want it to contain %q", got.Reason, w.reason)
	}
	if w.note != "" && !slices.ContainsFunc(got.Notes, func(n string) bool { return strings.Contains(n, w.note) }) {
		t.Errorf("notes = %q, want one containing %q", got.Notes, w.note)
	}
	if got.Runtime.Why == "" {
		t.Errorf("runtime %s has no Why", got.Runtime.Name)
	}
}

func TestDetectMarkersPerLanguage(t *testing.T) {
	for _, tt := range []struct{ file, name string }{
		{"app.lua", "lua"}, {"Project.toml", "julia"}, {"app.R", "r"}, {"renv.lock", "r"}, {"main.zig", "zig"},
		{"Main.java", "java"}, {"settings.gradle", "java"}, {"Main.kt", "kotlin"}, {"src/main.c", "c"},
		{"src/lib.cc", "cpp"}, {"config.ru", "ruby"}, {"pyproject.toml", "python"}, {"public/index.php", "php"},
		{"Cargo.toml", "rust"}, {"main.go", "go"}, {"app.sln", "dotnet"}, {"deno.jsonc", "deno"},
		{"bunfig.toml", "bun"}, {"package.json", "node"}, {"lib/x.pm", ""}, {"README.md", ""},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Detect(Input{Src: srcWith(t, tt.file)})
			if tt.name == "" {
				if err == nil {
					t.Fatalf("Detect = %s, want an error", got.Runtime.Name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Runtime.Name != tt.name {
				t.Errorf("runtime = %s, want %s", got.Runtime.Name, tt.name)
			}
		})
	}
}

func TestDetectOverride(t *testing.T) {
	gunicorn := []Process{proc(1, 0, "sh", "-c", "gunicorn app:app"), proc(5, 1, "gunicorn", "app:app"), proc(6, 5, "gunicorn", "app:app")}
	tests := []struct {
		name     string
		override string
		procs    []Process
		command  []string
		src      []string
		want     want
	}{
		{name: "alias", override: "golang", procs: []Process{proc(1, 0, "/app/server")},
			want: want{name: "go", strategy: Build, pid: 1, reason: "--language golang; the app runs as PID 1 `/app/server`"}},
		{name: "finds the named server's master", override: "gunicorn", procs: gunicorn,
			want: want{name: "gunicorn", strategy: Signal, signal: "HUP", pid: 5}},
		{name: "another runtime than the process looks like", override: "python", procs: gunicorn,
			want: want{name: "python", strategy: Wrapper, pid: 5}},
		{name: "single uvicorn named by hand still falls back", override: "UVICORN",
			procs: []Process{proc(1, 0, "python", "main.py")},
			want:  want{name: "uvicorn", strategy: Wrapper, pid: 1}},
		{name: "java is not refined to kotlin when named", override: "java",
			procs: []Process{proc(1, 0, "java", "-jar", "/app/app.jar")}, src: []string{"Main.kt"},
			want: want{name: "java", strategy: Build, pid: 1}},
		{name: "from the command when the table is empty", override: "go", command: []string{"sh", "-c", "/app/server"},
			want: want{name: "go", strategy: Build, command: []string{"/app/server"}}},
		{name: "nothing to look at", override: "php",
			want: want{name: "php", strategy: None}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Procs: tt.procs, Command: tt.command, Override: tt.override}
			if tt.src != nil {
				in.Src = srcWith(t, tt.src...)
			}
			got, err := Detect(in)
			if err != nil {
				t.Fatal(err)
			}
			checkDetection(t, got, tt.want)
		})
	}
}

func TestDetectErrors(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want []string
	}{
		{name: "unknown --language", in: Input{Override: "cobol"},
			want: []string{`unknown --language "cobol"`, "go, gunicorn, httpd"}},
		{name: "unknown binary, no markers", in: Input{Procs: []Process{proc(1, 0, "/app/mystery")}, Src: "/nonexistent"},
			want: []string{"PID 1 `/app/mystery` is no runtime kindling knows", "/nonexistent has no source markers", "pass --language (one of bun, c, cpp"}},
		{name: "nothing at all", in: Input{},
			want: []string{"the process table could not be read", "no --src was given"}},
		{name: "a shell with nothing known", in: Input{Procs: []Process{proc(1, 0, "sh", "-c", "sleep infinity")}},
			want: []string{"no process in the container is a runtime kindling knows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Detect(tt.in)
			if err == nil {
				t.Fatal("Detect succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}
