package cli

import (
	"os"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/kindling-dev/kindling/internal/testenv"
)

// openTerminal is a pseudo-terminal: the test types into ptmx what kindling reads from tty.
func openTerminal(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		testenv.Skip(t, "no pseudo-terminal here: "+err.Error())
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return ptmx, tty
}

func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	m, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *m
}

func waitFor(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("action %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s after 5 s", want)
	}
}

func TestWatchKeysInATerminal(t *testing.T) {
	for _, how := range []string{"restore", "restoreTerminal", "exitRestoring"} {
		t.Run(how, func(t *testing.T) {
			ptmx, tty := openTerminal(t)
			before := termios(t, tty)
			actions := make(chan string, 10)
			restore, err := watchKeys(tty, keyActions{
				Restart: func() { actions <- "restart" },
				Quit:    func() { actions <- "quit" },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			during := termios(t, tty)
			if during.Lflag&(unix.ICANON|unix.ECHO) != 0 {
				t.Errorf("still line-buffered or echoing: lflag %#x", during.Lflag)
			}
			if during.Lflag&unix.ISIG == 0 || during.Oflag&unix.OPOST == 0 {
				t.Errorf("signal keys or output processing turned off: lflag %#x oflag %#x", during.Lflag, during.Oflag)
			}
			// One key at a time, without Enter; other keys do nothing.
			if _, err := ptmx.Write([]byte("xr")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, actions, "restart")
			if _, err := ptmx.Write([]byte("q")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, actions, "quit")
			switch how {
			case "restore":
				restore()
				restore() // twice is fine
			case "restoreTerminal":
				restoreTerminal()
			case "exitRestoring":
				code := -1
				exitRestoring(func(c int) { code = c })(130)
				if code != 130 {
					t.Errorf("quit(%d), want quit(130)", code)
				}
			}
			if after := termios(t, tty); after != before {
				t.Errorf("mode after %s:\n%+v\nwant it as before:\n%+v", how, after, before)
			}
			// Restored means no longer read: a key now is the shell's, not kindling's.
			ptmx.Write([]byte("r"))
			select {
			case a := <-actions:
				t.Errorf("%s after the terminal was restored", a)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

func TestWatchKeysRestoresAfterAPanic(t *testing.T) {
	_, tty := openTerminal(t)
	before := termios(t, tty)
	func() {
		defer func() { recover() }()
		restore, err := watchKeys(tty, keyActions{})
		if err != nil {
			t.Fatal(err)
		}
		defer restore()
		panic("boom")
	}()
	if after := termios(t, tty); after != before {
		t.Errorf("mode after a panic:\n%+v\nwant\n%+v", after, before)
	}
}
