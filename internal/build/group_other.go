//go:build !unix

package build

import "os/exec"

// killGroupOnCancel leaves the default: cancelling kills the build tool itself.
func killGroupOnCancel(*exec.Cmd) {}
