package restart

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/transport"
)

func TestCheckEntrypoint(t *testing.T) {
	ctx := context.Background()
	node := []string{"node", "server.js"}
	for _, tc := range []struct {
		name      string
		container corev1.Container
		pid1      []string
		existing  []string // scripts the image has
		want      string   // the script refused, "" for none
		noExec    bool     // decided without looking into the container
	}{
		{name: "the script exec'd the app", container: corev1.Container{Name: "app", Args: []string{"server.js"}}, pid1: node,
			existing: []string{"/usr/local/bin/docker-entrypoint.sh"}, want: "/usr/local/bin/docker-entrypoint.sh"},
		{name: "no entrypoint script", container: corev1.Container{Name: "app"}, pid1: node},
		{name: "pid 1 is the script's shell", container: corev1.Container{Name: "app"},
			pid1:     []string{"/bin/sh", "/usr/local/bin/docker-entrypoint.sh", "node", "server.js"},
			existing: []string{"/usr/local/bin/docker-entrypoint.sh"}},
		{name: "an init runs the script", container: corev1.Container{Name: "app"},
			pid1:     []string{"tini", "--", "/docker-entrypoint.sh", "node", "server.js"},
			existing: []string{"/docker-entrypoint.sh"}},
		{name: "the template sets the command", container: corev1.Container{Name: "app", Command: node}, pid1: node,
			existing: []string{"/docker-entrypoint.sh"}, noExec: true},
		{name: "no pid 1 argv", container: corev1.Container{Name: "app"}, noExec: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &transport.RecordingExecer{Name: "pod/web-1/app", Respond: func(c transport.Call) (string, error) {
				var out string
				for _, s := range c.Argv[4:] {
					if slices.Contains(tc.existing, s) {
						out += s + "\n"
					}
				}
				return out, nil
			}}
			err := CheckEntrypoint(ctx, e, tc.container, tc.pid1)
			var ep *EntrypointError
			if tc.want == "" && err != nil || tc.want != "" && (!errors.As(err, &ep) || ep.Script != tc.want) {
				t.Fatalf("CheckEntrypoint = %v, want a refusal of %q", err, tc.want)
			}
			calls := e.Calls()
			if tc.noExec != (len(calls) == 0) {
				t.Fatalf("%d commands ran in the container", len(calls))
			}
			for _, c := range calls {
				// The names go as arguments, never in the script's text.
				if c.Argv[2] != existingScript || c.Argv[3] != "sh" {
					t.Fatalf("command %q", c.Argv)
				}
				for _, s := range c.Argv[4:] {
					if slices.ContainsFunc(tc.pid1, func(a string) bool { return strings.Contains(a, filepath.Base(s)) }) {
						t.Errorf("looked for %s, which pid 1 runs", s)
					}
				}
			}
		})
	}
}

func TestEntrypointErrorNamesTheScriptAndTheFix(t *testing.T) {
	err := &EntrypointError{Container: "app", Script: "/usr/local/bin/docker-entrypoint.sh", Pid1: []string{"node", "server.js"}}
	want := `container "app" sets no command and its image has /usr/local/bin/docker-entrypoint.sh, which pid 1 (node server.js) does not run: ` +
		`the restart supervisor would start the app without that script's set-up; set the container's command in the Deployment to the ` +
		`entrypoint and the app, e.g. command: ["/usr/local/bin/docker-entrypoint.sh", "node", "server.js"], and kindling wraps exactly that`
	if err.Error() != want {
		t.Fatalf("message\n got %s\nwant %s", err, want)
	}
}

func TestCheckEntrypointErrors(t *testing.T) {
	e := &transport.RecordingExecer{Name: "pod/web-1/app", Respond: func(transport.Call) (string, error) {
		return "", errors.New("exit status 126")
	}}
	err := CheckEntrypoint(context.Background(), e, corev1.Container{Name: "app"}, []string{"node", "server.js"})
	if err == nil || !strings.Contains(err.Error(), "pod/web-1/app: could not look for an entrypoint script") {
		t.Fatalf("error %v", err)
	}
}

// TestEntrypointScriptOnARealShell runs the check's script with sh over files in a temporary
// directory: a script that is there (its name with a space and a quote), one that is absent, a
// directory and a dangling link by the same kind of name.
func TestEntrypointScriptOnARealShell(t *testing.T) {
	root := t.TempDir()
	script := filepath.Join(root, "usr local", "bin", "docker-entrypoint'.sh")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "entrypoint.sh")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(root, "docker-entrypoint.sh")
	if err := os.Symlink(filepath.Join(root, "gone"), dangling); err != nil {
		t.Fatal(err)
	}
	scripts := []string{dangling, dir, filepath.Join(root, "absent.sh"), script}
	e := &transport.LocalExecer{Name: "local"}
	c := corev1.Container{Name: "app"}

	err := checkEntrypoint(context.Background(), e, c, []string{"node", "server.js"}, scripts)
	var ep *EntrypointError
	if !errors.As(err, &ep) || ep.Script != script {
		t.Fatalf("checkEntrypoint = %v, want a refusal of %s", err, script)
	}
	if err := checkEntrypoint(context.Background(), e, c, []string{"/bin/sh", script, "node"}, scripts); err != nil {
		t.Fatalf("pid 1 runs the script: %v", err)
	}
	if err := os.Remove(script); err != nil {
		t.Fatal(err)
	}
	if err := checkEntrypoint(context.Background(), e, c, []string{"node", "server.js"}, scripts); err != nil {
		t.Fatalf("no script left: %v", err)
	}
}
