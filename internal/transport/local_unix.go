//go:build unix

package transport

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LocalExecer runs commands on this machine in place of a container, so that tests can run Shell's real
// scripts: the container's files are the local filesystem, its tools whatever Path holds.
type LocalExecer struct {
	Name string
	// Path is the command search path, like a container's $PATH; empty means this process's PATH.
	Path string
	// Credential, when set, runs the commands as another user (the test must run as root).
	Credential *syscall.Credential
}

func (l *LocalExecer) Target() string { return l.Name }

func (l *LocalExecer) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	path := l.Path
	if path == "" {
		path = os.Getenv("PATH")
	}
	bin, err := lookPath(argv[0], path)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = []string{"PATH=" + path, "HOME=/"}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: l.Credential}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	// Like a Kubernetes exec, return when the command exits, even if stdin still has data to give: the
	// copy ends when the caller closes stdin or its next write fails.
	var in io.WriteCloser
	if stdin != nil {
		if in, err = cmd.StdinPipe(); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if in != nil {
		go func() {
			io.Copy(in, stdin)
			in.Close()
		}()
	}
	return cmd.Wait()
}

// lookPath finds name in path the way a container runtime does, with the same error when it is missing.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
}
