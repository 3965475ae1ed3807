package cli

import (
	"os"
	"testing"
)

func TestKeyActions(t *testing.T) {
	var got []string
	a := keyActions{
		Restart:   func() { got = append(got, "restart") },
		Quit:      func() { got = append(got, "quit") },
		Interrupt: func() { got = append(got, "interrupt") },
	}
	for _, b := range []byte("xrRq\x1b[AQ\n") {
		a.key(b)
	}
	a.key(ctrlC)
	want := []string{"restart", "restart", "quit", "quit", "interrupt"}
	if len(got) != len(want) {
		t.Fatalf("actions %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("actions %q, want %q", got, want)
		}
	}
	keyActions{}.key('r') // no action given: nothing happens
}

func TestWatchKeysIgnoresWhatIsNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("rq"); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, 0)
	called := false
	restore, err := watchKeys(f, keyActions{Restart: func() { called = true }, Quit: func() { called = true }})
	if err != nil {
		t.Fatal(err)
	}
	restore()
	restoreTerminal()
	if called {
		t.Error("keys were read from a file")
	}
}
