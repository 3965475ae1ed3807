package transport

import "io"

// Meter follows what an Apply sends, for a progress display. Its methods are called from the goroutine
// producing the stream: they must be cheap and must not block (an atomic add, not a write to a terminal).
type Meter interface {
	// Start says what the Apply is about to send: the plan's files and their bytes of content. An Apply
	// that is retried starts again from zero.
	Start(files, bytes int64)
	// Add counts what was read into the stream since the last call: bytes of content per block of at
	// most 32 KiB, and a file once all of it is in. Tar headers and padding are not counted, so the
	// counts end exactly at Start's totals when the Apply succeeds.
	Add(files, bytes int64)
	// Done says the Apply ended, however it ended; no Add follows it.
	Done()
}

// Progress reports every Apply's files and bytes to m as they are streamed into the container. A
// stream small enough to be handed over whole (a save, see MaxSessionInput) is counted as it is built,
// just before it is sent.
func Progress(m Meter) Option {
	return func(s *Shell) { s.meter = m }
}

// meteredWriter counts the content of one file as it goes into the stream. The Meter is called once per
// write, which io.CopyBuffer makes at most one buffer (32 KiB) long: no lock or call per byte.
type meteredWriter struct {
	w io.Writer
	m Meter
}

func (mw *meteredWriter) Write(p []byte) (int, error) {
	n, err := mw.w.Write(p)
	if n > 0 {
		mw.m.Add(0, int64(n))
	}
	return n, err
}
