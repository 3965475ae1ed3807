package runtime

import (
	"slices"
	"strings"
	"testing"
)

// The spec's runtime → strategy → signal list, one row per runtime it names.
func TestTableMatchesSpec(t *testing.T) {
	want := map[string]struct {
		strategy Strategy
		signal   string
	}{
		"node": {Wrapper, ""}, "python": {Wrapper, ""}, "ruby": {Wrapper, ""}, "perl": {Wrapper, ""},
		"lua": {Wrapper, ""}, "julia": {Wrapper, ""}, "r": {Wrapper, ""}, "elixir": {Wrapper, ""},
		"deno": {Wrapper, ""}, "bun": {Wrapper, ""},
		"uvicorn": {Signal, "HUP"}, "gunicorn": {Signal, "HUP"}, "puma": {Signal, "USR1"}, "unicorn": {Signal, "HUP"},
		"nginx": {Signal, "HUP"}, "httpd": {Signal, "USR1"},
		"php": {None, ""}, "nodemon": {None, ""},
		"go": {Build, ""}, "rust": {Build, ""}, "java": {Build, ""}, "kotlin": {Build, ""}, "dotnet": {Build, ""},
		"c": {Build, ""}, "cpp": {Build, ""}, "zig": {Build, ""},
	}
	if got := Languages(); len(got) != len(want) {
		t.Errorf("Languages() = %q, want the %d runtimes of the spec", got, len(want))
	}
	for name, w := range want {
		rt, err := Lookup(name)
		if err != nil {
			t.Errorf("Lookup(%q): %v", name, err)
			continue
		}
		if rt.Strategy != w.strategy || rt.Signal != w.signal {
			t.Errorf("%s: %s/%q, want %s/%q", name, rt.Strategy, rt.Signal, w.strategy, w.signal)
		}
	}
}

func TestTableIsConsistent(t *testing.T) {
	seen := map[string]string{}
	for _, r := range table {
		if r.Name != strings.ToLower(r.Name) || r.Display == "" || r.Language == "" || r.Why == "" {
			t.Errorf("%q: name must be lower case, Display, Language and Why set", r.Name)
		}
		if (r.Strategy == Signal) != (r.Signal != "") {
			t.Errorf("%s: signal %q with strategy %s", r.Name, r.Signal, r.Strategy)
		}
		if r.single != nil && (r.single.Strategy == Signal) != (r.single.Signal != "") {
			t.Errorf("%s: single-mode signal %q with strategy %s", r.Name, r.single.Signal, r.single.Strategy)
		}
		if len(r.programs) == 0 && len(r.markers) == 0 {
			t.Errorf("%s: neither a program nor a source marker detects it", r.Name)
		}
		for _, n := range append([]string{r.Name}, r.Aliases...) {
			if other, dup := seen[n]; dup {
				t.Errorf("%q names both %s and %s", n, other, r.Name)
			}
			seen[n] = r.Name
		}
		for _, p := range r.programs {
			if _, isTool := tools[p]; isTool {
				t.Errorf("%s: program %q is also a wrapper or launcher", r.Name, p)
			}
		}
	}
	if !slices.IsSorted(Languages()) {
		t.Errorf("Languages() is not sorted: %q", Languages())
	}
}

func TestLookup(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"go", "go"}, {"Golang", "go"}, {" js ", "node"}, {"py", "python"}, {"c#", "dotnet"}, {"c++", "cpp"},
		{"apache", "httpd"}, {"apache2", "httpd"}, {"php-fpm", "php"}, {"mod_php", "php"}, {"Rscript", "r"},
		{"kt", "kotlin"}, {"rb", "ruby"},
	} {
		rt, err := Lookup(tt.in)
		if err != nil || rt.Name != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.in, rt.Name, err, tt.want)
		}
	}
	_, err := Lookup("cobol")
	if err == nil || strings.Count(err.Error(), "\n") > 0 ||
		!strings.Contains(err.Error(), strings.Join(Languages(), ", ")) {
		t.Errorf("Lookup(cobol) error = %v, want one line listing %q", err, Languages())
	}
}

func TestProgramName(t *testing.T) {
	for _, tt := range []struct{ arg0, name, bare string }{
		{"/usr/local/bin/python3.12", "python3.12", "python"},
		{"ruby3.2", "ruby3.2", "ruby"},
		{"lua5.4", "lua5.4", "lua"},
		{"/usr/bin/perl5.36.0", "perl5.36.0", "perl"},
		{"php-fpm8.2:", "php-fpm8.2", "php-fpm"},
		{"nginx:", "nginx", "nginx"},
		{"-bash", "bash", "bash"},
		{"Rscript", "rscript", "rscript"},
		{"/usr/sbin/apache2", "apache2", "apache"},
		{"beam.smp", "beam.smp", "beam.smp"},
	} {
		if name, bare := programName(tt.arg0); name != tt.name || bare != tt.bare {
			t.Errorf("programName(%q) = %q, %q; want %q, %q", tt.arg0, name, bare, tt.name, tt.bare)
		}
	}
}

func TestShellCommands(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want [][]string
	}{
		{[]string{"-c", "cd /app && exec gunicorn 'app:create()' -b \"0.0.0.0:$PORT\""},
			[][]string{{"exec", "gunicorn", "app:create()", "-b", "0.0.0.0:$PORT"}}},
		{[]string{"-ec", "python manage.py migrate; python manage.py runserver"},
			[][]string{{"python", "manage.py", "migrate"}, {"python", "manage.py", "runserver"}}},
		{[]string{"-o", "pipefail", "-c", "node a.js | tee log"}, [][]string{{"node", "a.js"}, {"tee", "log"}}},
		{[]string{"/docker-entrypoint.sh", "-c", "node"}, nil},
		{[]string{"-c"}, nil},
		{[]string{"-c", "if then fi ((("}, [][]string{{"if", "then", "fi", "((("}}},
	} {
		if got := shellCommands(tt.args); !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("shellCommands(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestSpare(t *testing.T) {
	for _, tt := range []struct {
		argv   []string
		script string // "" when no spare may run it
		at     int
	}{
		{[]string{"node", "server.js"}, "spare.cjs", 1},
		{[]string{"/usr/local/bin/nodejs", "--no-warnings", "--max-old-space-size=512", "src/index.mjs", "--port", "80"}, "spare.cjs", 3},
		{[]string{"node", "-r", "dotenv/config", "server.js"}, "", 0}, // a preload would run before the sync
		{[]string{"node", "--import=tsx", "server.ts"}, "", 0},        // the same
		{[]string{"node", "--inspect", "server.js"}, "", 0},           // the debugger port is the old app's
		{[]string{"node", "--title", "api", "server.js"}, "", 0},      // an option not known to be safe
		{[]string{"node", "-e", "require('./server')"}, "", 0},        // no script
		{[]string{"node"}, "", 0},                      // a REPL
		{[]string{"python3", "app.py"}, "spare.py", 1}, // python3 is python
		{[]string{"/usr/bin/python3.11", "-u", "-W", "ignore", "-Xdev", "app.py", "-v"}, "spare.py", 5},
		{[]string{"python", "-uB", "-m", "myapp.server", "--reload"}, "spare.py", 2},
		{[]string{"python", "-m"}, "", 0},
		{[]string{"python", "-I", "app.py"}, "", 0}, // the script's directory is not on sys.path
		{[]string{"python", "-c", "import app"}, "", 0},
		{[]string{"python", "-", "app.py"}, "", 0},
		{[]string{"ruby", "app.rb"}, "", 0}, // no spare script for Ruby
		{[]string{"sh", "-c", "node server.js"}, "", 0},
	} {
		script, at, ok := Spare(tt.argv)
		if ok != (tt.script != "") || script != tt.script || at != tt.at {
			t.Errorf("Spare(%q) = %q, %d, %v; want %q, %d", tt.argv, script, at, ok, tt.script, tt.at)
		}
	}
}
