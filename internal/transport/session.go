package transport

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Session is an Execer that runs commands through one long-lived shell in the container instead of an
// exec each. A Kubernetes exec is a round trip through the API server and the kubelet plus a process
// the container runtime sets up: 50 ms on an idle node, 200–500 ms on a busy one, paid twice per save
// (the files, then the restart). On an open session a command costs a fork in the container.
//
// Only a command whose whole stdin is known up front and small (a *bytes.Reader, *bytes.Buffer or
// *strings.Reader of at most MaxSessionInput bytes) runs on the session; a streamed stdin, which may
// depend on the command's output, gets an exec of its own, as does every stdin when the container has no
// dd that reads whole blocks to hand the input over, and one that contains the session's secret (see
// sessionScript for the framing). The shell starts with the first command and again after it ended (the pod
// restarted, the connection broke); the command that was running then fails and is not retried.
// Commands run one at a time. A context that ends during a command takes the session down with it,
// since one command cannot be stopped on its own.
type Session struct {
	base Execer

	mu   sync.Mutex
	conn *sessionConn
}

// MaxSessionInput is the largest stdin a command sends through a Session: the whole of it is written out
// before the command runs, and the command's output is not read meanwhile.
const MaxSessionInput = 1 << 20

// NewSession returns a Session whose shell runs through base.
func NewSession(base Execer) *Session { return &Session{base: base} }

// Open starts the shell now, so that the first command finds it starting or running: the exec's round
// trip then overlaps whatever the caller does before that command. A start that fails is reported by the
// first command.
func (s *Session) Open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running()
}

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

// sessionScript is the shell at the other end. Its first argument is the session's secret (see
// sessionConn), the others the tools for probeScript. Its first line is a greeting; the lines of
// probeScript follow, so that a Shell on a Session learns the tools with the greeting instead of a
// command of its own, and the session whether it can hand a command its stdin (that takes ddFullblock).
// Then it reads one command per line:
//
//	SECRET TOKEN SIZE ARGV...
//
// as shell words (single-quoted, a newline inside a word written "$nl"), followed, when SIZE is not 0, by
// SIZE bytes of the command's stdin and the line "SECRET". When the command exits, the shell writes TOKEN
// to stdout and "TOKEN STATUS\n" to stderr ("TOKEN 127 notfound\n" for a command that does not exist), so
// that each stream ends one command's output with a marker that no output contains. Commands run through
// env where the container has it, as an exec runs them: not as shell builtins or functions.
//
// The framing rule: no byte of a command's stdin is ever read as a command. A line is only evaluated when
// it starts with the secret, which no stdin sent on the session contains (Session.Exec gives such an input
// an exec of its own), and the secret line after the stdin proves that the command was handed all of it
// and no more. Any other line ends the shell at once, before eval: a dd that read short (one without
// iflag=fullblock, as older BusyBox and toybox have, or one that ignores it) leaves the rest of a file in
// the shell's stdin, and that rest must end the session, never run. The input goes through dd in blocks
// of 64 KiB, so that no command makes the container hold its whole stdin in memory.
const sessionScript = `k=$1
shift
nl='
'
x=
command -v env >/dev/null 2>&1 && x=env
echo ` + sessionHello + `
` + probeScript + `
feed() {
	[ $(($1 / 65536)) -eq 0 ] || dd bs=65536 count=$(($1 / 65536)) iflag=fullblock 2>/dev/null
	[ $(($1 % 65536)) -eq 0 ] || dd bs=$(($1 % 65536)) count=1 iflag=fullblock 2>/dev/null
}
while IFS= read -r line; do
	case $line in
	"$k "*) ;;
	*) exit 97 ;;
	esac
	eval "set -- ${line#"$k "}"
	t=$1 n=$2
	shift 2
	if ! command -v "$1" >/dev/null 2>&1; then
		[ "$n" -eq 0 ] || feed "$n" >/dev/null
		s='127 notfound'
	else
		# sh is neither a builtin nor a function here: it needs no env (one process less for kindling's
		# own scripts).
		e=$x
		[ "$1" != sh ] || e=
		if [ "$n" -eq 0 ]; then
			$e "$@" </dev/null
		else
			# What the command leaves unread is drained, so that dd is never stopped half-way by a
			# closed pipe: the secret line must come next.
			feed "$n" | { $e "$@"; s=$?; { while IFS= read -r _; do :; done; } 2>/dev/null; exit $s; }
		fi
		s=$?
	fi
	if [ "$n" -ne 0 ]; then
		IFS= read -r line && [ "$line" = "$k" ] || exit 97
	fi
	printf '%s' "$t"
	printf '%s %s\n' "$t" "$s" >&2
done`

const sessionHello = "kindling-session"

var errSessionEnded = errors.New("the shell session ended")

// sessionConn is one running shell.
type sessionConn struct {
	// secret starts every command line; it reaches the shell in its argv, never on stdin, so no file
	// sent as a command's stdin can hold a line the shell runs.
	secret      string
	stdin       *io.PipeWriter
	out, errOut *markedReader
	cancel      context.CancelFunc
	done        chan struct{} // closed when the shell's exec returned; err is set then
	err         error
	// greeted is closed once the shell's greeting was read, or the stream ended first. up says the first
	// line was the greeting; badGreeting is set when it was something else. tools are the probe's answer
	// that follows it, nil when it did not come whole; canFeed says it found ddFullblock.
	greeted     chan struct{}
	up, canFeed bool
	badGreeting error
	tools       map[string]bool
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

// ended explains why the shell is gone: its exec's own error when there is one, so that a container
// without sh is recognized as such, or a first line that was not its greeting. Call it after stop.
func (c *sessionConn) ended() error {
	<-c.greeted
	if c.badGreeting != nil {
		return c.badGreeting
	}
	<-c.done
	if c.err != nil {
		return c.err
	}
	return errSessionEnded
}

// Exec runs argv on the session's shell when its stdin allows (see Session), else with an exec of its own.
func (s *Session) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) == 0 {
		return errors.New("no command")
	}
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 { // no exec can pass it, and a shell's read would drop it
			return fmt.Errorf("argument %q of %s holds a NUL byte", a, argv[0])
		}
	}
	input, ok := knownInput(stdin)
	if !ok {
		return s.base.Exec(ctx, argv, stdin, stdout, stderr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	c := s.running()
	code, notFound, err := c.run(ctx, argv, input, stdout, stderr)
	if errors.Is(err, errOwnExec) {
		return s.base.Exec(ctx, argv, bytes.NewReader(input), stdout, stderr)
	}
	if err != nil {
		s.conn = nil
		c.stop()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return c.ended()
	}
	switch {
	case notFound:
		return &exec.Error{Name: argv[0], Err: exec.ErrNotFound}
	case code != 0:
		return &sessionExitError{code: code}
	}
	return nil
}

// running returns the shell, started when there is none; s.mu is held.
func (s *Session) running() *sessionConn {
	if s.conn == nil || s.conn.dead() {
		s.conn = s.start()
	}
	return s.conn
}

// knownInput returns the whole of a stdin that fits a session, and whether it does.
func knownInput(stdin io.Reader) ([]byte, bool) {
	if stdin == nil {
		return nil, true
	}
	switch stdin.(type) {
	case *bytes.Reader, *bytes.Buffer, *strings.Reader:
	default:
		return nil, false
	}
	if stdin.(interface{ Len() int }).Len() > MaxSessionInput {
		return nil, false
	}
	b, err := io.ReadAll(stdin)
	return b, err == nil
}

// start runs the shell, which lives until Close, and reads its greeting in the background.
func (s *Session) start() *sessionConn {
	shellCtx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	c := &sessionConn{
		secret: rand.Text(),
		stdin:  inW, cancel: cancel, done: make(chan struct{}), greeted: make(chan struct{}),
		out: newMarkedReader(outR), errOut: newMarkedReader(errR),
	}
	go func() {
		stdin := &quietStdin{r: inR}
		err := s.base.Exec(shellCtx, append([]string{"sh", "-c", sessionScript, "kindling-session", c.secret}, probeTools...), stdin, outW, errW)
		stdin.end()
		c.err = err
		close(c.done)
		inR.CloseWithError(errSessionEnded)
		outW.CloseWithError(errSessionEnded)
		errW.CloseWithError(errSessionEnded)
	}()
	go func() {
		defer close(c.greeted)
		hello, err := c.out.r.ReadString('\n')
		switch {
		case err != nil: // the stream ended: ended tells why
		case hello != sessionHello+"\n":
			c.badGreeting = fmt.Errorf("starting a shell session in %s: unexpected output %q", s.base.Target(), hello)
			c.stop()
		default:
			c.up = true
			c.tools = readProbe(c.out.r)
			c.canFeed = c.tools[ddFullblock] // the very check Apply trusts to write files with dd
		}
	}()
	return c
}

// readProbe reads probeScript's lines up to its end marker; nil when the stream ends before it.
func readProbe(r *bufio.Reader) map[string]bool {
	tools := map[string]bool{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil
		}
		if line = strings.TrimSuffix(line, "\n"); line == probeDone {
			return tools
		}
		tools[line] = true
	}
}

// Tools returns which of probeTools the container has, as the shell said in its greeting, starting the
// shell if none runs; false when the greeting did not come (then a command tells why).
func (s *Session) Tools(ctx context.Context) (map[string]bool, bool) {
	s.mu.Lock()
	c := s.running()
	s.mu.Unlock()
	select {
	case <-c.greeted:
		return c.tools, c.tools != nil
	case <-ctx.Done():
		return nil, false
	}
}

// errOwnExec says that the shell cannot take a command's stdin (it has no dd that reads whole blocks, or
// the input holds the secret): the command needs an exec of its own.
var errOwnExec = errors.New("the shell session cannot take this input")

// run sends one command and copies its output until the markers. An error means the session is out of
// step or gone.
func (c *sessionConn) run(ctx context.Context, argv []string, input []byte, stdout, stderr io.Writer) (code int, notFound bool, err error) {
	if len(input) > 0 && holdsSecret(input, c.secret) {
		return 0, false, errOwnExec
	}
	token := newToken()
	stopWatching := context.AfterFunc(ctx, c.stop)
	defer stopWatching()
	request := c.frame(token, argv, input)
	// A command without stdin goes out before the shell has greeted: it runs as soon as the shell is
	// up, so a new shell's first command costs no round trip of its own. One with stdin waits to learn
	// whether the shell can take it.
	if len(input) == 0 {
		if _, err := c.stdin.Write(request); err != nil {
			return 0, false, err
		}
	}
	<-c.greeted // the stream ends, and with it the wait, when ctx ends
	if !c.up {
		return 0, false, errSessionEnded
	}
	// The input is written while the output is read: a command may write more than a pipe holds before
	// it reads its input, and a shell that ends half-way through an input (a dd that read short) may
	// have output on the way, which its exec delivers before it lets go of the input.
	written := make(chan error, 1)
	if len(input) > 0 {
		if !c.canFeed {
			return 0, false, errOwnExec
		}
		go func() {
			_, err := c.stdin.Write(request)
			written <- err
		}()
	} else {
		written <- nil
	}
	copied := make(chan error, 1)
	go func() { copied <- c.out.copyUntil(orDiscard(stdout), token) }()
	code, notFound, err = c.errOut.status(orDiscard(stderr), token)
	// Both end once the status came (the shell read all of the input first) or the shell's streams did.
	return code, notFound, errors.Join(err, <-copied, <-written)
}

// sessionExitError is a command's non-zero exit status.
type sessionExitError struct{ code int }

func (e *sessionExitError) Error() string { return "exit status " + strconv.Itoa(e.code) }
func (e *sessionExitError) ExitCode() int { return e.code }

// frame is one command as sessionScript reads it.
func (c *sessionConn) frame(token string, argv []string, input []byte) []byte {
	line := c.secret + " " + token + " " + strconv.Itoa(len(input)) + " " + shellWords(argv) + "\n"
	if len(input) == 0 {
		return []byte(line)
	}
	request := make([]byte, 0, len(line)+len(input)+len(c.secret)+1)
	request = append(append(append(request, line...), input...), c.secret...)
	return append(request, '\n')
}

// holdsSecret reports whether input, read as lines by a shell, could show it the secret: a shell's read
// drops NUL bytes (bash) or stops at them, so the secret is also looked for with them taken out.
func holdsSecret(input []byte, secret string) bool {
	if bytes.Contains(input, []byte(secret)) {
		return true
	}
	return bytes.IndexByte(input, 0) >= 0 && bytes.Contains(bytes.ReplaceAll(input, []byte{0}, nil), []byte(secret))
}

// newToken is a command's output marker: 128 random bits.
func newToken() string { return "kindling-" + rand.Text() }

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

// markedReader reads one of the shell's output streams, one command's output at a time.
type markedReader struct {
	r *bufio.Reader
}

func newMarkedReader(r io.Reader) *markedReader {
	return &markedReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// copyUntil copies the stream to w up to token, which it consumes. A writer that fails is dropped, so
// that the session stays in step; the caller learns of it from its writer.
func (m *markedReader) copyUntil(w io.Writer, token string) error {
	tok := []byte(token)
	for {
		if m.r.Buffered() == 0 {
			if _, err := m.r.Peek(1); err != nil {
				return err
			}
		}
		buf, _ := m.r.Peek(m.r.Buffered())
		if i := bytes.Index(buf, tok); i >= 0 {
			write(w, buf[:i])
			m.r.Discard(i + len(tok))
			return nil
		}
		// Pass on all but what may be the start of the token: a command may wait after writing output,
		// which must reach the caller meanwhile.
		if n := len(buf) - partialMatch(buf, tok); n > 0 {
			w = write(w, buf[:n])
			m.r.Discard(n)
			continue
		}
		// Too little buffered to decide: read more behind it.
		if _, err := m.r.Peek(len(buf) + 1); err != nil {
			return err
		}
	}
}

// write writes b to w, and returns the writer to use from now on.
func write(w io.Writer, b []byte) io.Writer {
	if len(b) == 0 { // an io.Pipe blocks even an empty write until someone reads
		return w
	}
	if _, err := w.Write(b); err != nil {
		return io.Discard
	}
	return w
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
	if len(fields) > 0 {
		if code, err = strconv.Atoi(fields[0]); err == nil {
			return code, len(fields) > 1 && fields[1] == "notfound", nil
		}
	}
	return 0, false, fmt.Errorf("session: no exit status in %q", line)
}
