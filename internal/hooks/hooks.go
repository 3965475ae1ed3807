// Package hooks decides and runs what a container needs between a sync and the app's reload: the
// install of dependencies whose manifest changed (npm, pip, bundle, …) and the user's --on-change
// commands. Choosing is pure (For); running goes through the transport's Execer (Run).
package hooks

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/transport"
)

// Command is one thing to run in the container, in Dir (relative to --dest).
type Command struct {
	// Why names what triggered it, e.g. "package.json changed".
	Why string
	// Tool is the program the container must have; a command whose tool is missing is skipped.
	Tool string
	// Argv runs the tool; Shell, for a user's --on-change command, is a command line for sh -c.
	Argv  []string
	Shell string
	Dir   string
}

func (c Command) String() string {
	if c.Shell != "" {
		return c.Shell
	}
	return strings.Join(c.Argv, " ")
}

// installer is a row of the dependency table: a manifest (a file name pattern), the tool and its
// install command. Rows are tried in order; in one directory the first row whose lock file is present
// wins, so a package.json change in a yarn project runs yarn, not npm.
type installer struct {
	manifests []string // base-name patterns that trigger the row
	lock      string   // the file whose presence (in the same directory) picks this row; "" always matches
	tool      string
	argv      func(file string) []string
}

func fixed(argv ...string) func(string) []string { return func(string) []string { return argv } }

// installers is the dependency table, documented in docs/dependencies.md.
var installers = []installer{
	{[]string{"package.json", "yarn.lock"}, "yarn.lock", "yarn", fixed("yarn", "install", "--frozen-lockfile")},
	{[]string{"package.json", "pnpm-lock.yaml"}, "pnpm-lock.yaml", "pnpm", fixed("pnpm", "install", "--frozen-lockfile")},
	{[]string{"package.json", "package-lock.json"}, "package-lock.json", "npm", fixed("npm", "ci", "--no-audit", "--no-fund")},
	{[]string{"package.json"}, "", "npm", fixed("npm", "install", "--no-audit", "--no-fund")},
	{[]string{"requirements*.txt"}, "", "pip", func(file string) []string {
		return []string{"pip", "install", "--disable-pip-version-check", "-r", file}
	}},
	{[]string{"pyproject.toml", "poetry.lock"}, "poetry.lock", "poetry", fixed("poetry", "install", "--no-interaction")},
	{[]string{"pyproject.toml", "uv.lock"}, "uv.lock", "uv", fixed("uv", "sync", "--frozen")},
	{[]string{"Gemfile", "Gemfile.lock"}, "", "bundle", fixed("bundle", "install")},
	{[]string{"composer.json", "composer.lock"}, "", "composer", fixed("composer", "install", "--no-interaction")},
}

// OnChange is a user's --on-change GLOB=COMMAND.
type OnChange struct {
	Glob, Command string
}

// ParseOnChange reads GLOB=COMMAND.
func ParseOnChange(s string) (OnChange, error) {
	glob, command, ok := strings.Cut(s, "=")
	glob, command = strings.TrimSpace(glob), strings.TrimSpace(command)
	if !ok || glob == "" || command == "" {
		return OnChange{}, fmt.Errorf("--on-change %q: want GLOB=COMMAND, e.g. '*.proto=make proto'", s)
	}
	if _, err := path.Match(glob, ""); err != nil {
		return OnChange{}, fmt.Errorf("--on-change %q: bad pattern %q: %v", s, glob, err)
	}
	return OnChange{Glob: glob, Command: command}, nil
}

// matches tells whether the slash-separated path p matches glob: a glob without a slash matches the
// base name at any depth; "dir/**" matches everything under dir; otherwise the whole path.
func matches(glob, p string) bool {
	if prefix, ok := strings.CutSuffix(glob, "/**"); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	if !strings.Contains(glob, "/") {
		ok, _ := path.Match(glob, path.Base(p))
		return ok
	}
	ok, _ := path.Match(glob, p)
	return ok
}

// Config is what a session runs after a sync.
type Config struct {
	// Install runs the dependency table's installs (off with --no-install).
	Install  bool
	OnChange []OnChange
}

// For lists what to run after a sync that wrote or deleted the changed paths (relative to --dest), with
// local the tree the container now holds: installs first, one per directory and tool, then the user's
// commands, each once, in the order given.
func (c Config) For(changed []string, local plan.Tree) []Command {
	var cmds []Command
	seen := map[string]bool{}
	if c.Install {
		for _, p := range changed {
			dir, base := path.Dir(p), path.Base(p)
			if dir == "." {
				dir = ""
			}
			for _, in := range installers {
				if !anyMatch(in.manifests, base) {
					continue
				}
				if in.lock != "" {
					if _, ok := local[path.Join(dir, in.lock)]; !ok {
						continue
					}
				}
				if _, exists := local[p]; !exists {
					continue // a deleted manifest: nothing to install from it
				}
				argv := in.argv(base)
				key := dir + "\x00" + strings.Join(argv, " ")
				if !seen[key] {
					seen[key] = true
					cmds = append(cmds, Command{Why: p + " changed", Tool: in.tool, Argv: argv, Dir: dir})
				}
				break
			}
		}
	}
	for _, oc := range c.OnChange {
		for _, p := range changed {
			if matches(oc.Glob, p) {
				cmds = append(cmds, Command{Why: p + " changed", Shell: oc.Command})
				break
			}
		}
	}
	return cmds
}

func anyMatch(patterns []string, base string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, base); ok {
			return true
		}
	}
	return false
}

// script runs one command in a directory of --dest: every value is an argument, never part of the
// script, so no file name is ever parsed by the shell. A tool the container lacks is said with
// missingTool, not run.
const script = `cd "$1" || exit 126
shift
if [ "$1" = -c ]; then exec sh -c "$2"; fi
if ! command -v "$1" >/dev/null 2>&1; then echo "` + missingTool + `"; exit 127; fi
exec "$@"`

const missingTool = "kindling-hook: tool not found"

// Result is what Run did, for the sync's line.
type Result struct {
	Ran     []string // "npm ci" …
	Skipped []string // "npm (not in the container)" …
}

// Note is the short text of a result for the sync's line, "" when nothing ran.
func (r Result) Note() string {
	var parts []string
	if len(r.Ran) > 0 {
		parts = append(parts, "ran "+strings.Join(r.Ran, ", "))
	}
	if len(r.Skipped) > 0 {
		parts = append(parts, "skipped "+strings.Join(r.Skipped, ", "))
	}
	return strings.Join(parts, "; ")
}

// tailLines is how much of a failed command's output an error shows.
const tailLines = 6

// Run runs cmds in the container one by one, in dest; it stops at the first failure, whose error ends
// with the last lines of the command's output.
func Run(ctx context.Context, e transport.Execer, dest string, cmds []Command) (Result, error) {
	var r Result
	for _, c := range cmds {
		argv := append([]string{"sh", "-c", script, "kindling-hook", path.Join(dest, c.Dir)}, c.Argv...)
		if c.Shell != "" {
			argv = []string{"sh", "-c", script, "kindling-hook", path.Join(dest, c.Dir), "-c", c.Shell}
		}
		var out bytes.Buffer
		err := e.Exec(ctx, argv, nil, &out, &out)
		switch {
		case err == nil:
			r.Ran = append(r.Ran, c.String())
		case c.Tool != "" && strings.HasPrefix(out.String(), missingTool):
			r.Skipped = append(r.Skipped, c.Tool+" (not in the container)")
		case ctx.Err() != nil:
			return r, ctx.Err()
		default:
			return r, fmt.Errorf("`%s` (%s) failed: %v%s%s", c, c.Why, err, tail(out.String()), hint(out.String()))
		}
	}
	return r, nil
}

// hint is the fix for a failure kindling recognises, "" for others.
func hint(out string) string {
	if strings.Contains(out, "externally-managed-environment") {
		// Debian's and Ubuntu's system Python refuse pip installs outside a virtualenv (PEP 668).
		return "; the image's Python refuses pip installs (PEP 668): set PIP_BREAK_SYSTEM_PACKAGES=1 in the container's env, install into a virtualenv in the image, or pass --no-install"
	}
	return ""
}

// tail is the last lines of a command's output, on one line, for an error.
func tail(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return ": " + strings.Join(lines, " | ")
}
