package runtime

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Process is one entry of a container's process table.
type Process struct {
	PID, PPID int
	// Argv is /proc/PID/cmdline split at NULs. A process that rewrote its title has one element with
	// spaces ("nginx: master process nginx -g daemon off;").
	Argv []string
}

// ProcScript lists a container's processes. Run it as `sh -c ProcScript`: it needs only a POSIX shell
// (dash, busybox ash), its builtins and cat. It prints `\0kindling-self <its own pid>\0`, then for every
// process `\0kindling-proc <pid> <ppid>\0` followed by the raw /proc/<pid>/cmdline. ParseProcs reads it.
//
// The parent PID is the fourth field of /proc/<pid>/stat; the second, the command name in parentheses,
// may itself hold spaces and ")", so everything up to the last ") " is cut off first. A process that ends
// between the directory listing and the reads is skipped (stat) or listed without argv (cmdline).
const ProcScript = `exec 2>/dev/null
printf '\0kindling-self %s\0' "$$"
for d in /proc/[0-9]*; do
	read -r line < "$d/stat" || continue
	rest=${line##*) }
	rest=${rest#* }
	printf '\0kindling-proc %s %s\0' "${d#/proc/}" "${rest%% *}"
	cat "$d/cmdline"
done
`

const frame = "\x00kindling-"

// ParseProcs parses ProcScript's output, sorted by PID. The listing's own shell and its children (cat)
// are left out. Trailing empty arguments are dropped: a process that rewrote its title pads its old
// argument area with NULs. A process whose own arguments look like a frame (an argument starting with
// "kindling-", such as another kindling script's) does not break the listing: a frame whose header is not
// a well-formed self or proc header is taken as part of the previous command line.
func ParseProcs(out []byte) ([]Process, error) {
	self := -1
	var procs []Process
	var raw [][]byte // the command line of each process, as read
	// headerOpen: the last header's closing NUL was taken as the start of a frame, because the command
	// line after it begins with "kindling-"; what follows belongs to that command line, from "kindling-".
	headerOpen := false
	for i, rec := range bytes.Split(out, []byte(frame)) {
		head, cmdline, closed := bytes.Cut(rec, []byte{0})
		if i > 0 {
			if pid, ok := selfHeader(head); ok {
				self = pid
				continue
			}
			if p, ok := procHeader(head); ok {
				procs = append(procs, p)
				raw = append(raw, cmdline)
				headerOpen = !closed
				continue
			}
		}
		if len(raw) > 0 {
			last := len(raw) - 1
			join := frame
			if headerOpen {
				join = frame[1:]
			}
			raw[last] = append(append(raw[last], join...), rec...)
		}
		headerOpen = false
	}
	for i := range procs {
		procs[i].Argv = splitCmdline(raw[i])
	}
	if self < 0 {
		return nil, fmt.Errorf("process listing: output does not come from ProcScript (%d bytes)", len(out))
	}
	procs = slices.DeleteFunc(procs, func(p Process) bool { return p.PID == self || p.PPID == self })
	if len(procs) == 0 {
		return nil, fmt.Errorf("process listing found no process: /proc is not readable in the container")
	}
	slices.SortFunc(procs, func(a, b Process) int { return a.PID - b.PID })
	return procs, nil
}

func selfHeader(head []byte) (int, bool) {
	fields := strings.Fields(string(head))
	if len(fields) != 2 || fields[0] != "self" {
		return 0, false
	}
	pid, err := strconv.Atoi(fields[1])
	return pid, err == nil
}

func procHeader(head []byte) (Process, bool) {
	fields := strings.Fields(string(head))
	if len(fields) != 3 || fields[0] != "proc" {
		return Process{}, false
	}
	pid, err1 := strconv.Atoi(fields[1])
	ppid, err2 := strconv.Atoi(fields[2])
	return Process{PID: pid, PPID: ppid}, err1 == nil && err2 == nil
}

func splitCmdline(b []byte) []string {
	if len(b) == 0 {
		return nil // a zombie or a kernel thread
	}
	args := strings.Split(string(b), "\x00")
	for len(args) > 0 && args[len(args)-1] == "" {
		args = args[:len(args)-1]
	}
	return args
}

// ExecBinaryPath returns the file a compiled app's process runs, to be replaced by a new build: the jar of
// `java -jar app.jar` (or a lone jar on -cp), the assembly of `dotnet app.dll`, else argv[0] when it is an
// absolute path. It returns "" when the process names no absolute path (the caller then uses --dest).
func ExecBinaryPath(p Process) string {
	if len(p.Argv) == 0 {
		return ""
	}
	file := p.Argv[0]
	switch _, bare := programName(file); bare {
	case "java":
		file = jarOf(p.Argv[1:])
	case "dotnet":
		file = ""
		if i := skipOptions(p.Argv[1:], nil) + 1; i < len(p.Argv) && strings.HasSuffix(p.Argv[i], ".dll") {
			file = p.Argv[i]
		}
	}
	if !path.IsAbs(file) {
		return ""
	}
	return path.Clean(file)
}

func jarOf(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-jar":
			return args[i+1]
		case "-cp", "-classpath", "--class-path":
			if cp := args[i+1]; strings.HasSuffix(cp, ".jar") && !strings.Contains(cp, ":") {
				return cp
			}
		}
	}
	return ""
}
