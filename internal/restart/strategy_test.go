package restart

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kindling-dev/kindling/internal/transport"
)

var (
	_ Strategy = (*Wrapper)(nil)
	_ Strategy = (*Signal)(nil)
	_ Strategy = None{}
	_ Strategy = (*Fake)(nil)
)

// localExecer runs what a strategy would run in a container on this machine: the supervisor's
// in-container paths map to a test copy and a test state directory, "sh" to the shell under test.
type localExecer struct {
	sh       testShell
	script   string
	stateDir string
}

func (e localExecer) Target() string { return "local/" + e.sh.name }

func (e localExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	argv = slices.Clone(argv)
	for i, a := range argv {
		switch a {
		case StateDir:
			argv[i] = e.stateDir
		case SupervisorPath:
			argv[i] = e.script
		}
	}
	if argv[0] == "sh" {
		argv = slices.Concat(e.sh.argv, argv[1:])
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + e.sh.path}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return cmd.Run()
}

func (s *testSupervisor) execer() transport.Execer {
	return localExecer{sh: s.sh, script: s.script, stateDir: s.dir}
}

func TestWrapperPrepareWrapsAndFindsTheTCPPorts(t *testing.T) {
	ctx := context.Background()
	original := template(corev1.Container{Name: "app", Command: []string{"node", "server.js"}, Ports: []corev1.ContainerPort{
		{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}, {ContainerPort: 5353, Protocol: corev1.ProtocolUDP}, {ContainerPort: 9090},
	}})
	before := deployment(original)
	for _, tc := range []struct {
		name  string
		ports []int32
		want  []int32
	}{
		{"declared", nil, []int32{8080, 9090}},
		{"given", []int32{3000}, []int32{3000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(before.DeepCopy())
			w := &Wrapper{Client: client, Namespace: ns, Workload: web, Options: WrapOptions{Container: "app"}, Ports: tc.ports}
			if err := w.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.Ports, tc.want) {
				t.Fatalf("ports %v, want %v", w.Ports, tc.want)
			}
			if _, wrapped := WrappedSession(&getDeployment(t, client).ObjectMeta); !wrapped {
				t.Fatal("Prepare did not wrap the Deployment")
			}
			for range 2 {
				if err := w.Restore(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := userView(t, getDeployment(t, client)), userView(t, before); got != want {
				t.Fatalf("restored\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestWrapperReload(t *testing.T) {
	ctx := context.Background()
	for _, sh := range testShells(t) {
		t.Run(sh.name+"/restarted", func(t *testing.T) {
			port := freePort(t)
			s := startSupervisor(t, sh, nil, testApp(t, "listen", port))
			s.waitFor("the app to listen", func() bool { return listening(port) })
			w := &Wrapper{Ports: []int32{int32(atoi(t, port))}, Timeout: 10 * time.Second}
			r, err := w.Reload(ctx, s.execer())
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != "restart" || r.ReadyAfter <= 0 || r.Note != "pid "+strconv.Itoa(s.appPID()) || !listening(port) {
				t.Fatalf("result %+v; app pid %d", r, s.appPID())
			}
		})
		t.Run(sh.name+"/crashed", func(t *testing.T) {
			port := freePort(t)
			crash := filepath.Join(t.TempDir(), "crash")
			s := startSupervisor(t, sh, nil, testApp(t, "listen", port, "crash-if", crash))
			s.waitFor("the app to listen", func() bool { return listening(port) })
			if err := os.WriteFile(crash, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := (&Wrapper{Ports: []int32{int32(atoi(t, port))}}).Reload(ctx, s.execer())
			var crashed *CrashError
			if !errors.As(err, &crashed) || crashed.Status != 3 || crashed.Target != "local/"+sh.name {
				t.Fatalf("error %v, want a CrashError with status 3", err)
			}
		})
		t.Run(sh.name+"/port never served", func(t *testing.T) {
			s := startSupervisor(t, sh, nil, testApp(t, "worker"))
			port := freePort(t)
			_, err := (&Wrapper{Ports: []int32{int32(atoi(t, port))}, Timeout: time.Second}).Reload(ctx, s.execer())
			if err == nil || !strings.Contains(err.Error(), "nothing listens on port "+port+" after 1s") {
				t.Fatalf("error %v", err)
			}
		})
		t.Run(sh.name+"/no supervisor", func(t *testing.T) {
			execer := localExecer{sh: sh, script: writeScript(t), stateDir: t.TempDir()}
			_, err := (&Wrapper{}).Reload(ctx, execer)
			if err == nil || !strings.Contains(err.Error(), "no supervisor") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startMaster runs the test binary as a server master (see testMaster) in its own process group and
// waits until it handles signals.
func startMaster(t *testing.T, args ...string) int {
	t.Helper()
	out := filepath.Join(t.TempDir(), "stdout")
	stdout, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	argv := testApp(t, append([]string{"master"}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = testAppEnviron()
	cmd.Stdout = stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for b, _ := os.ReadFile(out); !strings.Contains(string(b), "ready"); b, _ = os.ReadFile(out) {
		if time.Now().After(deadline) {
			t.Fatal("the test master never got ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid
}

func TestSignalReload(t *testing.T) {
	ctx := context.Background()
	for _, sh := range testShells(t) {
		for _, tc := range []struct {
			name    string
			master  []string
			timeout time.Duration
			note    string // the Result's note, with %d for the master's PID; empty when an error is expected
			reason  string // the NoReloadError's reason
		}{
			{name: "workers replaced", master: []string{"2"}, note: "pid %d kept, 2 new workers"},
			{name: "many workers replaced", master: []string{"8"}, note: "pid %d kept, 8 new workers"},
			{name: "re-executed with new threads", master: []string{"0", "reexec-on-hup"}, note: "pid %d kept"},
			{name: "reload under way", master: []string{"2", "replace-one-on-hup"}, timeout: time.Second,
				note: "pid %d kept; 1 old workers still finishing after 1s"},
			{name: "signal ignored", master: []string{"2", "ignore-hup"}, timeout: time.Second,
				reason: "none of its 2 workers was replaced within 1s"},
			{name: "master died", master: []string{"2", "die-on-hup"}, reason: "the process exited or was replaced"},
		} {
			t.Run(sh.name+"/"+tc.name, func(t *testing.T) {
				pid := startMaster(t, tc.master...)
				s := &Signal{Signal: "SIGHUP", Master: MasterPID(pid), Timeout: tc.timeout}
				if err := s.Prepare(ctx); err != nil {
					t.Fatal(err)
				}
				execer := localExecer{sh: sh}
				r, err := s.Reload(ctx, execer)
				if tc.reason != "" {
					var noReload *NoReloadError
					if !errors.As(err, &noReload) || noReload.Reason != tc.reason || noReload.PID != pid || noReload.Signal != "HUP" {
						t.Fatalf("result %+v, error %v; want a NoReloadError: %s", r, err, tc.reason)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if want := strings.Replace(tc.note, "%d", strconv.Itoa(pid), 1); r.Method != "SIGHUP" || !strings.HasPrefix(r.Note, want) || r.ReadyAfter <= 0 {
					t.Fatalf("result %+v, want method SIGHUP and a note starting %q", r, want)
				}
				if !alive(pid) {
					t.Fatal("the master did not survive its reload")
				}
			})
		}
		t.Run(sh.name+"/no such process", func(t *testing.T) {
			cmd := exec.Command("true")
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			_, err := (&Signal{Signal: "HUP", Master: MasterPID(cmd.Process.Pid)}).Reload(ctx, localExecer{sh: sh})
			if err == nil || !strings.Contains(err.Error(), "no process "+strconv.Itoa(cmd.Process.Pid)+" to send SIGHUP to") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestSignalRejectsAnUnknownSignal(t *testing.T) {
	err := (&Signal{Signal: "KILL"}).Prepare(context.Background())
	if err == nil || err.Error() != `"KILL" is not a reload signal: use one of HUP, USR1, USR2` {
		t.Fatalf("error %v", err)
	}
}

func TestNoneOnlyNotes(t *testing.T) {
	r, err := None{Note: "opcache.validate_timestamps=0 keeps old code"}.Reload(context.Background(), localExecer{})
	if err != nil || r != (Result{Method: "none", Note: "opcache.validate_timestamps=0 keeps old code"}) {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestFakeRecordsCalls(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	f := &Fake{OnReload: func(target string) (Result, error) {
		if target == "local/bad" {
			return Result{}, boom
		}
		return Result{Method: "restart"}, nil
	}}
	f.Prepare(ctx)
	if r, err := f.Reload(ctx, localExecer{sh: testShell{name: "good"}}); err != nil || r.Method != "restart" {
		t.Fatalf("%+v, %v", r, err)
	}
	if _, err := f.Reload(ctx, localExecer{sh: testShell{name: "bad"}}); err != boom {
		t.Fatalf("error %v", err)
	}
	f.Restore(ctx)
	if want := []string{"prepare", "reload local/good", "reload local/bad", "restore"}; !slices.Equal(f.Calls(), want) || f.Name() != "fake" {
		t.Fatalf("calls %q name %q", f.Calls(), f.Name())
	}
}
