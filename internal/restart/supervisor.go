package restart

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"
)

//go:embed supervisor.sh
var supervisorScript string

// SupervisorScript returns the restart supervisor, a POSIX sh script (dash and BusyBox ash). Its modes are
// described at its top: `run` supervises the app as PID 1, `restart` and `status` are its client.
func SupervisorScript() string { return supervisorScript }

// Where the wrapped pod finds the supervisor. The script arrives through a downwardAPI volume that
// projects a pod-template annotation, so no image change is needed; its state lives in an emptyDir,
// which is writable even under readOnlyRootFilesystem.
const (
	// SupervisorMarker is the basename of the script in the container, the mark runtime detection
	// recognises in a process table.
	SupervisorMarker = "kindling-supervisor"
	// SupervisorPath is the script in the wrapped container.
	SupervisorPath = supervisorDir + "/" + SupervisorMarker
	// StateDir holds the supervisor's pid, state and request files in the wrapped container.
	StateDir = "/.kindling/state"

	supervisorDir = "/.kindling/bin"
)

// restartCommand is the argv that asks the supervisor for a restart and waits until the new app runs
// and, for each port, listens.
func restartCommand(ports []int32, timeout time.Duration) []string {
	argv := []string{SupervisorPath, "restart", "--state-dir", StateDir, "--timeout", wholeSeconds(timeout)}
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

// restartOutcome is the one line the client mode prints.
type restartOutcome struct {
	PID        int
	Generation int
	Ready      time.Duration
	Crashed    bool
	Status     int    // exit status of a crashed app
	Timeout    string // what it was still waiting for, when it timed out
}

// parseRestartOutput reads the client's line: "restarted pid=P generation=G ready_ms=MS",
// "crashed status=N" or "timeout ...".
func parseRestartOutput(out string) (restartOutcome, error) {
	line := strings.TrimSpace(out)
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	word, rest, _ := strings.Cut(line, " ")
	fields := map[string]string{}
	for _, f := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[k] = v
		}
	}
	num := func(key string) (int, error) {
		n, err := strconv.Atoi(fields[key])
		if err != nil {
			return 0, fmt.Errorf("supervisor answered %q: no number in %s", line, key)
		}
		return n, nil
	}
	var o restartOutcome
	var err error
	switch word {
	case "restarted":
		var ms int
		if o.PID, err = num("pid"); err != nil {
			return o, err
		}
		if o.Generation, err = num("generation"); err != nil {
			return o, err
		}
		if ms, err = num("ready_ms"); err != nil {
			return o, err
		}
		o.Ready = time.Duration(ms) * time.Millisecond
	case "crashed":
		o.Crashed = true
		o.Status, err = num("status")
	case "timeout":
		o.Timeout = rest
	default:
		err = fmt.Errorf("supervisor answered %q, not restarted/crashed/timeout", line)
	}
	return o, err
}
