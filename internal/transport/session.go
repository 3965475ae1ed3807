package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Session is an Execer that runs commands through one long-lived shell in the container instead of one
// exec each. A Kubernetes exec is a round trip through the API server and the kubelet plus a process set
// up by the container runtime: about 50 ms on an idle node and several hundred under load, paid twice per
// save (the files, then the restart). On an open session a command costs a fork in the container.
//
// The shell is started with the first command and again after it ends (the pod restarted, the connection
// broke); a command running when it ends fails and is not retried. Commands run one at a time.
type Session struct {
	base Execer

	mu   sync.Mutex // held from the start of a command until its stdin is fully framed
	conn *sessionConn
}

// NewSession returns a Session running its shell through base.
func NewSession(base Execer) *Session { return &Session{base: base} }

func (s *Session) Target() string { return s.base.Target() }

// Close ends the shell, if one runs.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.stop()
		s.conn = nil
	}
	return nil
}

// sessionScript is the shell at the other end. The first line it prints says whether it can pass stdin
// to a command (that needs dd). Then it reads one command per line:
//
//	TOKEN MODE ARGV...
//
// as shell words (single-quoted, a newline inside a word written "$nl"). MODE "-" gives the command no
// stdin; "+" gives it the chunks that follow the line, each "<size>\n<size bytes>", up to a chunk of
// size 0. When the command exits, the shell prints TOKEN on stdout and "TOKEN <status>\n" on stderr
// (status 127 and " notfound" for a command that does not exist), so that each stream of the session
// ends one command's output with a marker no output contains. It then keeps reading stdin chunks up to
// the 0, which the client sends as soon as it sees the markers. Commands run through env, as an exec
// runs them (not as shell builtins or functions), where the container has env.
const sessionScript = `nl='
'
x=
command -v env >/dev/null 2>&1 && x=env
feeder=no
command -v dd >/dev/null 2>&1 && feeder=yes
printf 'kindling-session %s\n' "$feeder"
feed() {
	while IFS= read -r n && [ "$n" -gt 0 ]; do
		dd bs="$n" count=1 iflag=fullblock 2>/dev/null
	done
}
run() {
	$x "$@"
	s=$?
	printf '%s' "$t"
	printf '%s %d\n' "$t" "$s" >&2
}
while IFS= read -r line; do
	eval "set -- $line"
	t=$1 in=$2
	shift 2
	if ! command -v "$1" >/dev/null 2>&1; then
		printf '%s' "$t"
		printf '%s 127 notfound\n' "$t" >&2
		[ "$in" = - ] || feed >/dev/null
	elif [ "$in" = - ]; then
		run "$@" </dev/null
	else
		feed | run "$@"
	fi
done`

// sessionHello starts the shell's first line.
const sessionHello = "kindling-session "

// Stdin chunks: each costs the shell a dd process, so a bulk stream goes in chunks of up to maxChunk,
// while what is written before a pause of chunkPause goes at once. dd reads a whole chunk before it
// writes any of it, so that a command that exits early never leaves part of a chunk unread (to be taken
// for the next command line).
const (
	maxChunk   = 1 << 20
	chunkPause = 2 * time.Millisecond
	feedEnd    = "0\n"
)

// sessionConn is one running shell.
type sessionConn struct {
	stdin       *io.PipeWriter
	out, errOut *markedReader
	canFeed     bool
	cancel      context.CancelFunc
	done        chan struct{} // closed when the shell's exec returned; err is set then
	err         error
}

func (c *sessionConn) stop() {
	c.cancel()
	c.stdin.Close()
}

func (c *sessionConn) dead() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// ended explains why the shell is gone; its exec's own error when there is one, so that a container
// without sh is recognized as such.
func (c *sessionConn) ended() error {
	<-c.done
	if c.err != nil {
		return c.err
	}
	return errors.New("the shell session ended")
}

func (s *Session) start() (*sessionConn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	c := &sessionConn{
		stdin: inW, cancel: cancel, done: make(chan struct{}),
		out: newMarkedReader(outR), errOut: newMarkedReader(errR),
	}
	go func() {
		stdin := &quietStdin{r: inR}
		err := s.base.Exec(ctx, []string{"sh", "-c", sessionScript}, stdin, outW, errW)
		stdin.end()
		c.err = err
		close(c.done)
		inR.CloseWithError(errSessionEnded)
		outW.CloseWithError(errSessionEnded)
		errW.CloseWithError(errSessionEnded)
	}()
	hello, err := c.out.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(hello, sessionHello) {
		c.stop()
		if err != nil {
			return nil, c.ended()
		}
		return nil, fmt.Errorf("starting a shell session in %s: unexpected output %q", s.base.Target(), hello)
	}
	c.canFeed = strings.TrimSpace(strings.TrimPrefix(hello, sessionHello)) == "yes"
	return c, nil
}

var errSessionEnded = errors.New("the shell session ended")

// Exec runs argv on the session's shell (see Execer).
func (s *Session) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return errors.New("no command")
	}
	s.mu.Lock()
	unlock := true
	defer func() {
		if unlock {
			s.mu.Unlock()
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.conn == nil || s.conn.dead() {
		conn, err := s.start()
		if err != nil {
			return err
		}
		s.conn = conn
	}
	c := s.conn
	var in *pump
	var head []byte
	if stdin != nil {
		in = newPump(stdin)
		defer in.stop()
		var ended bool
		head, ended = in.sniff()
		// A bulk stream goes faster through an exec of its own, which needs no framing and no dd.
		if !c.canFeed || !ended && len(head) >= maxChunk {
			return s.base.Exec(ctx, argv, io.MultiReader(bytes.NewReader(head), in), stdout, stderr)
		}
		if ended {
			in.stop()
		}
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	mode := "-"
	if stdin != nil {
		mode = "+"
	}
	if _, err := io.WriteString(c.stdin, token+" "+mode+" "+shellWords(argv)+"\n"); err != nil {
		s.conn = nil
		c.stop()
		return c.ended()
	}
	// A command cannot be stopped on its own: a context that ends takes the session down.
	watching := context.AfterFunc(ctx, c.stop)
	over := make(chan struct{})
	fed := make(chan error, 1)
	if in != nil {
		go func() { fed <- in.feed(c.stdin, head, over) }()
	} else {
		fed <- nil
	}

	status := make(chan error, 1)
	go func() { status <- c.out.copyUntil(orDiscard(stdout), token) }()
	code, notFound, errErr := c.errOut.status(orDiscard(stderr), token)
	outErr := <-status

	close(over)
	if ctxEnded := !watching(); ctxEnded || errErr != nil || outErr != nil {
		s.conn = nil
		c.stop()
		<-fed
		if err := ctx.Err(); err != nil {
			return err
		}
		return c.ended()
	}
	var result error
	switch {
	case notFound:
		result = &exec.Error{Name: argv[0], Err: exec.ErrNotFound}
	case code != 0:
		result = &sessionExitError{code: code}
	}
	// The shell reads the rest of the command's stdin framing before the next command line: keep the
	// session until that is written, without making the caller wait for it.
	unlock = false
	go func() {
		if err := <-fed; err != nil {
			s.conn = nil
			c.stop()
		}
		s.mu.Unlock()
	}()
	return result
}

// pump reads a command's stdin ahead, in pieces, so that Exec can see how it starts.
type pump struct {
	data     chan []byte // closed at the end of stdin or after stop
	over     chan struct{}
	stopOnce sync.Once
	rest     []byte // of the piece Read is handing out
}

func newPump(r io.Reader) *pump {
	p := &pump{data: make(chan []byte, maxChunk/(32<<10)), over: make(chan struct{})}
	go func() {
		defer close(p.data)
		for {
			buf := make([]byte, 32<<10)
			n, err := r.Read(buf)
			if n > 0 {
				select {
				case p.data <- buf[:n]:
				case <-p.over:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// stop ends the reading once the command no longer wants its stdin.
func (p *pump) stop() { p.stopOnce.Do(func() { close(p.over) }) }

// sniff gathers stdin until it ends, reaches maxChunk, or pauses for chunkPause.
func (p *pump) sniff() (head []byte, ended bool) {
	pause := time.NewTimer(chunkPause)
	defer pause.Stop()
	for len(head) < maxChunk {
		select {
		case b, ok := <-p.data:
			if !ok {
				return head, true
			}
			head = append(head, b...)
			pause.Reset(chunkPause)
		case <-pause.C:
			return head, false
		}
	}
	return head, false
}

// Read makes the rest of stdin the stdin of a plain exec.
func (p *pump) Read(b []byte) (int, error) {
	if len(p.rest) == 0 {
		piece, ok := <-p.data
		if !ok {
			return 0, io.EOF
		}
		p.rest = piece
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

// feed sends head and the rest of stdin to the shell in chunks, and ends them with a chunk of size 0 at
// the end of stdin or as soon as over is closed (the command exited). A chunk goes when it reaches
// maxChunk or when stdin pauses for chunkPause, since the command may be waiting to answer what it got.
// It returns an error only when the shell's stdin broke.
func (p *pump) feed(w io.Writer, head []byte, over <-chan struct{}) error {
	chunk := head
	send := func() error {
		if len(chunk) == 0 {
			return nil
		}
		_, err := fmt.Fprintf(w, "%d\n%s", len(chunk), chunk)
		chunk = chunk[:0]
		return err
	}
	if err := send(); err != nil {
		return err
	}
	pause := time.NewTimer(chunkPause)
	defer pause.Stop()
	for {
		var paused <-chan time.Time
		if len(chunk) > 0 {
			paused = pause.C
		}
		select {
		case b, ok := <-p.data:
			if !ok {
				if err := send(); err != nil {
					return err
				}
				_, err := io.WriteString(w, feedEnd)
				return err
			}
			chunk = append(chunk, b...)
			pause.Reset(chunkPause)
			if len(chunk) >= maxChunk {
				if err := send(); err != nil {
					return err
				}
			}
		case <-paused:
			if err := send(); err != nil {
				return err
			}
		case <-over:
			_, err := io.WriteString(w, feedEnd)
			return err
		}
	}
}

// sessionExitError is a command's non-zero exit status.
type sessionExitError struct{ code int }

func (e *sessionExitError) Error() string { return "exit status " + strconv.Itoa(e.code) }
func (e *sessionExitError) ExitCode() int { return e.code }

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "kindling-" + hex.EncodeToString(b[:]), nil
}

// shellWords quotes argv as shell words for sessionScript: single quotes, and "$nl" for newlines, since
// the shell reads one line per command.
func shellWords(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		lines := strings.Split(a, "\n")
		for j, l := range lines {
			lines[j] = "'" + strings.ReplaceAll(l, "'", `'\''`) + "'"
		}
		words[i] = strings.Join(lines, `"$nl"`)
	}
	return strings.Join(words, " ")
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// markedReader reads one of the shell's output streams, a command's output at a time.
type markedReader struct {
	r *bufio.Reader
}

func newMarkedReader(r io.Reader) *markedReader {
	return &markedReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// copyUntil copies the stream to w up to token, which it consumes.
func (m *markedReader) copyUntil(w io.Writer, token string) error {
	tok := []byte(token)
	for {
		buf, _ := m.r.Peek(m.r.Buffered())
		if len(buf) == 0 {
			// Nothing buffered: wait for more.
			if _, err := m.r.Peek(1); err != nil {
				return err
			}
			continue
		}
		if i := bytes.Index(buf, tok); i >= 0 {
			if i > 0 { // an io.Pipe blocks even an empty write until someone reads
				if _, err := w.Write(buf[:i]); err != nil {
					w = io.Discard // keep the session in step; the caller learns of it from its writer
				}
			}
			m.r.Discard(i + len(tok))
			return nil
		}
		// Pass on all but what may be the start of the token. Only a real partial match is kept back:
		// a command may wait for input after writing output, which must reach the caller meanwhile.
		n := len(buf) - partialMatch(buf, tok)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				w = io.Discard
			}
			m.r.Discard(n)
			continue
		}
		// Too little buffered to decide: read more behind it.
		if _, err := m.r.Peek(len(buf) + 1); err != nil {
			return err
		}
	}
}

// partialMatch is the length of the longest end of buf that begins tok (shorter than tok).
func partialMatch(buf, tok []byte) int {
	for k := min(len(buf), len(tok)-1); k > 0; k-- {
		if bytes.HasSuffix(buf, tok[:k]) {
			return k
		}
	}
	return 0
}

// status copies stderr up to token and reads the status line that follows it.
func (m *markedReader) status(w io.Writer, token string) (code int, notFound bool, err error) {
	if err := m.copyUntil(w, token); err != nil {
		return 0, false, err
	}
	line, err := m.r.ReadString('\n')
	if err != nil {
		return 0, false, err
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return 0, false, fmt.Errorf("session: no status in %q", line)
	}
	code, err = strconv.Atoi(fields[0])
	if err != nil {
		return 0, false, fmt.Errorf("session: no status in %q", line)
	}
	return code, len(fields) > 1 && fields[1] == "notfound", nil
}
