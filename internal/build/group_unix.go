//go:build unix

package build

import (
	"os/exec"
	"syscall"
)

// killGroupOnCancel runs the build in its own process group and kills the whole group when the build is
// cancelled: a build tool's compilers and linkers are its children.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
