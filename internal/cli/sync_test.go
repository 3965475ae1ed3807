package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the command line without a cluster; only flag handling and validation can succeed.
func run(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestSyncValidation(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no deployment", []string{"sync"}, "--deployment (-d) is required"},
		{"src missing", []string{"sync", "-d", "web", "--src", filepath.Join(dir, "nope")}, "does not exist"},
		{"src is a file", []string{"sync", "-d", "web", "--src", file}, "is not a directory"},
		{"dest relative", []string{"sync", "-d", "web", "--src", dir, "--dest", "app"}, "must be an absolute path"},
		{"dest root", []string{"sync", "-d", "web", "--src", dir, "--dest", "/"}, "whole filesystem"},
		{"debounce zero", []string{"sync", "-d", "web", "--src", dir, "--debounce", "0s"}, "must be positive"},
		{"debounce garbage", []string{"sync", "-d", "web", "--src", dir, "--debounce", "fast"}, "invalid argument"},
		{"unknown language", []string{"sync", "-d", "web", "--src", dir, "--language", "cobol"}, `unknown --language "cobol": use one of`},
		{"build-cmd alone", []string{"sync", "-d", "web", "--src", dir, "--build-cmd", "make"}, "go together"},
		{"bad exclude", []string{"sync", "-d", "web", "--src", dir, "--exclude", "[abc"}, "[abc"},
		{"unknown flag", []string{"sync", "-d", "web", "--watch"}, "unknown flag: --watch"},
		{"unknown kind", []string{"sync", "-d", "pod/web-0", "--src", dir}, "syncs into a deployment, statefulset or daemonset, not a pod"},
		{"no name", []string{"sync", "-d", "sts/", "--src", dir}, "is not a workload name"},
		{"restore unknown kind", []string{"restore", "-d", "job/x"}, "not a job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(tt.args...)
			var u usageError
			if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a usage error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestSyncFlagsAndDefaults(t *testing.T) {
	cmd := newSyncCommand()
	defaults := map[string]string{
		"deployment": "", "src": ".", "dest": "/app", "namespace": "", "restart": "false", "once": "false",
		"container": "", "exclude": "[]", "debounce": "500ms", "language": "", "build-cmd": "", "build-output": "",
	}
	for name, want := range defaults {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Errorf("flag --%s is missing", name)
			continue
		}
		if f.DefValue != want {
			t.Errorf("--%s defaults to %q, want %q", name, f.DefValue, want)
		}
	}
	for name, short := range map[string]string{"deployment": "d", "namespace": "n"} {
		if got := cmd.Flags().Lookup(name).Shorthand; got != short {
			t.Errorf("--%s shorthand = %q, want %q", name, got, short)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := run("version")
	if err != nil || !strings.HasPrefix(out, "kindling ") {
		t.Fatalf("version: %q, %v", out, err)
	}
}

// -d's kubectl short names become one spelling, the one events and printed commands use.
func TestSyncWorkloadSpelling(t *testing.T) {
	dir := t.TempDir()
	for arg, want := range map[string]string{"web": "web", "deploy/web": "web", "sts/db": "statefulset/db", "daemonsets/agent": "daemonset/agent"} {
		o := syncOptions{connection: connection{deployment: arg}, src: dir, dest: "/app", debounce: 1}
		if err := o.validate(); err != nil || o.deployment != want {
			t.Errorf("-d %s: %q, %v; want %q", arg, o.deployment, err, want)
		}
	}
}
