package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// listProcs runs ProcScript with a POSIX shell on this machine, as kindling runs it in a container.
func listProcs(t *testing.T, shell ...string) []Process {
	t.Helper()
	if _, err := exec.LookPath(shell[0]); err != nil {
		t.Fatalf("%s is not installed; hack/cluster/deps installs it", shell[0])
	}
	out, err := exec.Command(shell[0], append(shell[1:], "-c", ProcScript)...).Output()
	if err != nil {
		t.Fatalf("%s -c ProcScript: %v", shell, err)
	}
	procs, err := ParseProcs(out)
	if err != nil {
		t.Fatal(err)
	}
	return procs
}

func TestProcScriptFindsThisProcess(t *testing.T) {
	for _, shell := range [][]string{{"dash"}, {"bash", "--posix"}, {"busybox", "sh"}} {
		t.Run(shell[0], func(t *testing.T) {
			procs := listProcs(t, shell...)
			self := find(procs, os.Getpid())
			if self == nil {
				t.Fatalf("the test process %d is not in the listing of %d processes", os.Getpid(), len(procs))
			}
			if self.PPID != os.Getppid() || !reflect.DeepEqual(self.Argv, os.Args) {
				t.Errorf("got %+v, want ppid %d argv %q", *self, os.Getppid(), os.Args)
			}
			for _, p := range procs {
				if len(p.Argv) > 1 && p.Argv[1] == "-c" && strings.Contains(strings.Join(p.Argv, " "), "kindling-proc") {
					t.Errorf("the listing's own shell %d is listed", p.PID)
				}
			}
		})
	}
}

// A command name with spaces and ")" must not shift the fields of /proc/PID/stat.
func TestProcScriptOddCommandName(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(t.TempDir(), "x) (y z")
	if err := os.Symlink(sleep, odd); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(odd, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	p := find(listProcs(t, "dash"), cmd.Process.Pid)
	if p == nil {
		t.Fatal("the odd process is not listed")
	}
	if want := (Process{PID: cmd.Process.Pid, PPID: os.Getpid(), Argv: []string{odd, "30"}}); !reflect.DeepEqual(*p, want) {
		t.Errorf("got %+v, want %+v", *p, want)
	}
}

func find(procs []Process, pid int) *Process {
	for i := range procs {
		if procs[i].PID == pid {
			return &procs[i]
		}
	}
	return nil
}

func TestParseProcs(t *testing.T) {
	rec := func(pid, ppid, cmdline string) string {
		return "\x00kindling-proc " + pid + " " + ppid + "\x00" + cmdline
	}
	self := "\x00kindling-self 40\x00"
	tests := []struct {
		name string
		out  string
		want []Process
		err  string
	}{
		{name: "argv, sorted, listing left out",
			out: self + rec("7", "1", "python\x00app.py\x00") + rec("1", "0", "sh\x00-c\x00python app.py\x00") +
				rec("40", "0", "sh\x00-c\x00...\x00") + rec("41", "40", "cat\x00/proc/41/cmdline\x00"),
			want: []Process{proc(1, 0, "sh", "-c", "python app.py"), proc(7, 1, "python", "app.py")}},
		{name: "title without NUL and title padded with NULs",
			out: self + rec("1", "0", "nginx: master process nginx -g daemon off;") +
				rec("9", "1", "nginx: worker process\x00\x00\x00\x00"),
			want: []Process{proc(1, 0, "nginx: master process nginx -g daemon off;"), proc(9, 1, "nginx: worker process")}},
		{name: "empty argument inside argv kept",
			out:  self + rec("1", "0", "app\x00\x00x\x00"),
			want: []Process{proc(1, 0, "app", "", "x")}},
		{name: "zombie without argv",
			out:  self + rec("1", "0", "app\x00") + rec("5", "1", ""),
			want: []Process{proc(1, 0, "app"), {PID: 5, PPID: 1}}},
		{name: "not from ProcScript", out: "sh: 1: cannot open /proc\n", err: "does not come from ProcScript"},
		{name: "an argument that looks like a frame stays in its command line",
			out:  self + rec("1", "0", "sh\x00-c\x00script\x00kindling-batch 3\x00x\x00") + rec("2", "1", "sleep\x001\x00kindling-proc x 1\x00junk\x00"),
			want: []Process{proc(1, 0, "sh", "-c", "script", "kindling-batch 3", "x"), proc(2, 1, "sleep", "1", "kindling-proc x 1", "junk")}},
		{name: "no process", out: self, err: "/proc is not readable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcs([]byte(tt.out))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestExecBinaryPath(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"/app/server", "--port", "80"}, "/app/server"},
		{[]string{"/app/../app/bin/server"}, "/app/bin/server"},
		{[]string{"./server"}, ""},
		{[]string{"server"}, ""},
		{[]string{"/usr/bin/java", "-Xmx1g", "-jar", "/app/app.jar", "--spring.profiles.active=dev"}, "/app/app.jar"},
		{[]string{"java", "-cp", "/app/app.jar", "com.example.Main"}, "/app/app.jar"},
		{[]string{"java", "-cp", "/app/lib/*:/app/app.jar", "com.example.Main"}, ""},
		{[]string{"java", "-jar", "app.jar"}, ""},
		{[]string{"dotnet", "/app/Api.dll"}, "/app/Api.dll"},
		{[]string{"dotnet", "run"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := ExecBinaryPath(Process{PID: 1, Argv: tt.argv}); got != tt.want {
			t.Errorf("ExecBinaryPath(%q) = %q, want %q", tt.argv, got, tt.want)
		}
	}
}
