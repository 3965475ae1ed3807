//go:build windows

package restart

import (
	"errors"
	"syscall"
)

// processGone tells whether no process has the ID pid: Windows refuses to open an unknown one with
// ERROR_INVALID_PARAMETER, and a process that exited but whose handle someone still holds has an exit code.
// Anything else (access denied to another user's process) counts as alive: the heartbeat's age decides.
func processGone(pid int) bool {
	const processQueryLimitedInformation = 0x1000
	const errorInvalidParameter = syscall.Errno(87)
	const stillActive = 259
	h, err := syscall.OpenProcess(processQueryLimitedInformation, false, uint32(pid))
	if err != nil {
		return errors.Is(err, errorInvalidParameter)
	}
	defer syscall.CloseHandle(h)
	var code uint32
	if err := syscall.GetExitCodeProcess(h, &code); err != nil {
		return false
	}
	return code != stillActive
}
