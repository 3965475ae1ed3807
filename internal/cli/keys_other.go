//go:build !linux

package cli

import "os"

// startKeys: single keys are read on Linux only (the terminal mode is set through its termios ioctls);
// elsewhere kindling sync runs as it did before, stopped with Ctrl-C.
func startKeys(*os.File, keyActions) (func(), error) { return nil, nil }
