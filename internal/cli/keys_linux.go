package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// startKeys switches in to cbreak mode and reads it on a goroutine; nil restore when in is not a
// terminal kindling may use (see watchKeys).
func startKeys(in *os.File, a keyActions) (func(), error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) || !foreground(fd) {
		return nil, nil
	}
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("reading the terminal's mode: %w", err)
	}
	if err := setCbreak(fd, *saved); err != nil {
		return nil, fmt.Errorf("setting the terminal's mode: %w", err)
	}
	// A blocking read cannot be interrupted: the reader polls the terminal and this pipe, which
	// restore writes to.
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.IoctlSetTermios(fd, unix.TCSETS, saved)
		return nil, err
	}
	// After Ctrl-Z and fg the shell may have put its own mode back: take cbreak again, unless restored.
	var mu sync.Mutex
	restored := false
	cont := make(chan os.Signal, 1)
	signal.Notify(cont, syscall.SIGCONT)
	stopCont := make(chan struct{})
	go func() {
		for {
			select {
			case <-cont:
				mu.Lock()
				if !restored {
					setCbreak(fd, *saved)
				}
				mu.Unlock()
			case <-stopCont:
				return
			}
		}
	}()
	go readKeys(fd, wake[0], a)
	// restore waits for neither goroutine: an action that blocks, or that ends the session and so
	// restores, must not keep the terminal as it is.
	return func() {
		mu.Lock()
		defer mu.Unlock()
		restored = true
		signal.Stop(cont)
		close(stopCont)
		unix.Write(wake[1], []byte{0})
		unix.Close(wake[1]) // readKeys closes wake[0] as it returns
		// TCSETSW: what kindling printed is out before the mode changes under it.
		unix.IoctlSetTermios(fd, unix.TCSETSW, saved)
	}, nil
}

// setCbreak is mode without ICANON and ECHO, one byte at a time.
func setCbreak(fd int, mode unix.Termios) error {
	mode.Lflag &^= unix.ICANON | unix.ECHO
	mode.Cc[unix.VMIN], mode.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, &mode)
}

// foreground reports whether this process may read and set the terminal: a background job that does is
// stopped by SIGTTIN/SIGTTOU. A terminal that is not this process's controlling terminal (no job control
// on it) has no foreground to be in, and may be used.
func foreground(fd int) bool {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil {
		return true
	}
	return pgrp == unix.Getpgrp()
}

// readKeys reads fd until wake is readable or fd ends (the terminal went away), then closes wake.
func readKeys(fd, wake int, a keyActions) {
	defer unix.Close(wake)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	buf := make([]byte, 64)
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) == 0 {
			continue
		}
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if n <= 0 {
			return
		}
		for _, b := range buf[:n] {
			a.key(b)
		}
	}
}
