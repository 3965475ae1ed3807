//go:build unix

package restart

import (
	"errors"
	"syscall"
)

// processGone tells whether no process has the ID pid. Signal 0 checks without sending anything; EPERM
// (another user's process) means it exists.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
