package restart

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kindling-dev/kindling/internal/runtime"
)

//go:embed supervisor.sh
var supervisorScript string

// spareScripts are the spare interpreters' scripts (see runtime.Spare), by file name.
var spareScripts = map[string]string{"spare.cjs": spareNode, "spare.py": sparePython}

var (
	//go:embed spare/spare.cjs
	spareNode string
	//go:embed spare/spare.py
	sparePython string
)

// SupervisorScript returns the restart supervisor, a POSIX sh script (dash and BusyBox ash). Its modes are
// described at its top: `run` supervises the app as PID 1, `restart` and `status` are its client.
func SupervisorScript() string { return supervisorScript }

// Where the wrapped pod finds the supervisor. The script arrives through a downwardAPI volume that
// projects a pod-template annotation, so no image change is needed; its state lives in an emptyDir,
// which is writable even under readOnlyRootFilesystem.
const (
	// SupervisorPath is the script in the wrapped container. Its basename is the mark by which runtime
	// detection recognises the supervisor in a process table.
	SupervisorPath = supervisorDir + "/" + runtime.SupervisorMarker
	// StateDir holds the supervisor's pid, state and request files in the wrapped container.
	StateDir = "/.kindling/state"

	supervisorDir = "/.kindling/bin"
)

// restartCommand is the argv that asks the supervisor for a restart and waits until the new app runs
// and, for each port, listens. It names sh itself: a session runs sh without env, a process less on
// the way to the restart.
func restartCommand(ports []int32, timeout time.Duration) []string {
	argv := []string{"sh", SupervisorPath, "restart", "--state-dir", StateDir, "--timeout", wholeSeconds(timeout)}
	for _, p := range ports {
		argv = append(argv, "--wait-port", strconv.Itoa(int(p)))
	}
	return argv
}

// wholeSeconds rounds d up to whole seconds, at least one: the script counts in seconds.
func wholeSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// scriptLine is the one line a mode of the supervisor script prints: a word, then key=value fields, as
// in "restarted pid=57 generation=3 ready_ms=120".
type scriptLine struct {
	text   string
	word   string
	fields map[string]string
}

// lastLine parses the last line of a script's output.
func lastLine(out string) scriptLine {
	text := strings.TrimSpace(out)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[i+1:]
	}
	word, rest, _ := strings.Cut(text, " ")
	l := scriptLine{text: text, word: word, fields: map[string]string{}}
	for _, f := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(f, "="); ok {
			l.fields[k] = v
		}
	}
	return l
}

// number reads a numeric field.
func (l scriptLine) number(key string) (int, error) {
	n, err := strconv.Atoi(l.fields[key])
	if err != nil {
		return 0, fmt.Errorf("script answered %q: no number in %s", l.text, key)
	}
	return n, nil
}

// millis reads a field of milliseconds.
func (l scriptLine) millis(key string) (time.Duration, error) {
	n, err := l.number(key)
	return time.Duration(n) * time.Millisecond, err
}
