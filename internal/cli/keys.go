package cli

import (
	"os"
	"sync"
)

// keyActions are what single keys do while kindling sync runs in a terminal. Each is called on the
// goroutine reading the keys, one at a time, and should return at once (cancel a context, send on a
// buffered channel); nil ignores the key.
type keyActions struct {
	Restart func() // r: restart the app now
	Quit    func() // q: end the session, as a first Ctrl-C does
	// Interrupt is Ctrl-C read as a byte. watchKeys keeps the terminal's signal keys on, so Ctrl-C is
	// a real SIGINT and this is not called then; it is there for a terminal whose ISIG another program
	// turned off, where 0x03 would otherwise do nothing. Give it what SIGINT does.
	Interrupt func()
}

// ctrlC is the byte Ctrl-C sends when the terminal does not turn it into SIGINT.
const ctrlC = 0x03

// key runs the action of one byte read from the terminal; other bytes are ignored.
func (a keyActions) key(b byte) {
	var f func()
	switch b {
	case 'r', 'R':
		f = a.Restart
	case 'q', 'Q':
		f = a.Quit
	case ctrlC:
		f = a.Interrupt
	}
	if f != nil {
		f()
	}
}

// watchKeys reads single keys from in when it is the terminal kindling runs in the foreground of, and
// calls a's actions. The terminal is put in cbreak mode: no line buffering (a key acts without Enter)
// and no echo, while signal keys (ISIG: Ctrl-C stays SIGINT, Ctrl-Z suspends, Ctrl-\ quits) and output
// processing (OPOST: "\n" still starts a new line, so every line kindling prints looks as before) are
// left on. term.MakeRaw would turn both off.
//
// The returned restore puts the terminal back as it was and stops reading; defer it. It may be called
// more than once, from any goroutine. The mode is also restored by restoreTerminal, for the ways out that
// skip deferred calls (os.Exit on a third Ctrl-C, a panic on another goroutine). When in is not a
// terminal, or kindling runs in the background (reading would stop it with SIGTTIN), watchKeys does
// nothing and restore does nothing.
func watchKeys(in *os.File, a keyActions) (restore func(), err error) {
	r, err := startKeys(in, a)
	if err != nil || r == nil {
		return func() {}, err
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			r()
			activeTerminal.Lock()
			activeTerminal.restore = nil
			activeTerminal.Unlock()
		})
	}
	activeTerminal.Lock()
	activeTerminal.restore = restore
	activeTerminal.Unlock()
	return restore, nil
}

// activeTerminal is the restore of the terminal watchKeys changed, while it is changed.
var activeTerminal struct {
	sync.Mutex
	restore func()
}

// keysActive tells whether watchKeys is reading keys now (false when stdin is no terminal, or kindling
// runs in the background), for the line that names them.
func keysActive() bool {
	activeTerminal.Lock()
	defer activeTerminal.Unlock()
	return activeTerminal.restore != nil
}

// restoreTerminal puts back the terminal watchKeys changed, if any. Call it before os.Exit and from a
// recover: a terminal left without echo after kindling exits looks broken to its user.
func restoreTerminal() {
	activeTerminal.Lock()
	r := activeTerminal.restore
	activeTerminal.Unlock()
	if r != nil {
		r()
	}
}

// exitRestoring is quit with the terminal restored first (onSignals' quit: os.Exit runs no deferred call).
func exitRestoring(quit func(int)) func(int) {
	return func(code int) {
		restoreTerminal()
		quit(code)
	}
}
