package runtime

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
)

// listing is what ProcScript prints for a table: its own shell's PID, then each process's header and
// command line (arguments joined with NULs, as /proc/PID/cmdline holds them).
func listing(self int, procs []Process) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "\x00kindling-self %d\x00", self)
	for _, p := range procs {
		fmt.Fprintf(&b, "\x00kindling-proc %d %d\x00", p.PID, p.PPID)
		for _, a := range p.Argv {
			b.WriteString(a)
			b.WriteByte(0)
		}
	}
	return []byte(b.String())
}

// FuzzParseProcs: any bytes parse without a panic, and a table that parses holds no process of the
// listing's own shell, is sorted by PID and has no trailing empty argument.
func FuzzParseProcs(f *testing.F) {
	f.Add(listing(40, []Process{{PID: 1, Argv: []string{"python3", "/app/server.py"}}, {PID: 7, PPID: 1, Argv: []string{"sh", "-c", "sleep 1"}}, {PID: 41, PPID: 40, Argv: []string{"cat", "/proc/41/cmdline"}}}))
	f.Add(listing(9, []Process{{PID: 1, Argv: []string{"nginx: master process nginx -g daemon off;", "", ""}}, {PID: 3, PPID: 1}}))
	f.Add(listing(5, []Process{{PID: 1, Argv: []string{"sh", "-c", "kindling-proc 2 1", "kindling-self 9", "kindling-"}}}))
	f.Add([]byte("\x00kindling-self x\x00\x00kindling-proc 1\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, out []byte) {
		procs, err := ParseProcs(out)
		if err != nil {
			return
		}
		if len(procs) == 0 {
			t.Fatal("an empty table without an error")
		}
		for i, p := range procs {
			if i > 0 && procs[i-1].PID > p.PID {
				t.Fatalf("not sorted by PID: %d before %d", procs[i-1].PID, p.PID)
			}
			if n := len(p.Argv); n > 0 && p.Argv[n-1] == "" {
				t.Fatalf("process %d has a trailing empty argument: %q", p.PID, p.Argv)
			}
		}
	})
}

// FuzzProcsRoundTrip: a process table listed as ProcScript lists it parses back to the same table (less
// the listing's own shell and its children, and trailing empty arguments), for any arguments, as long as
// none starts with "kindling-" followed by a well-formed header: an argument cannot hold a NUL, but
// "kindling-proc 5 1" after the NUL that ends the one before it reads as a frame. The listing's own
// commands never have such an argument, and a real app's are not expected to.
func FuzzProcsRoundTrip(f *testing.F) {
	f.Add(uint16(40), uint16(1), uint16(0), "python3\x00/app/server.py", uint16(7), uint16(1), "gunicorn\x00-w\x002\x00app:app")
	f.Add(uint16(9), uint16(1), uint16(0), "nginx: master process nginx\x00\x00", uint16(3), uint16(1), "")
	f.Add(uint16(2), uint16(1), uint16(0), "sh\x00-c\x00exec kindling-supervisor run -- node /app/a.js", uint16(30), uint16(2), "kindling-x\x00kindling-proc")
	f.Add(uint16(3), uint16(1), uint16(0), "\x00\x00a", uint16(4), uint16(1), "a\nb\x00 \x00\t")
	f.Fuzz(func(t *testing.T, self, pid1, ppid1 uint16, cmdline1 string, pid2, ppid2 uint16, cmdline2 string) {
		argv := func(cmdline string) []string {
			if cmdline == "" {
				return nil
			}
			return strings.Split(cmdline, "\x00")
		}
		table := []Process{{PID: int(pid1), PPID: int(ppid1), Argv: argv(cmdline1)}, {PID: int(pid2), PPID: int(ppid2), Argv: argv(cmdline2)}}
		if pid1 == pid2 || pid1 == self || pid2 == self || ppid1 == self || ppid2 == self {
			return
		}
		for _, p := range table {
			for _, a := range p.Argv {
				if _, ok := selfHeader([]byte(strings.TrimPrefix(a, "kindling-"))); ok && strings.HasPrefix(a, "kindling-") {
					return
				}
				if _, ok := procHeader([]byte(strings.TrimPrefix(a, "kindling-"))); ok && strings.HasPrefix(a, "kindling-") {
					return
				}
			}
		}
		got, err := ParseProcs(listing(int(self), table))
		if err != nil {
			t.Fatalf("ParseProcs(listing of %+v): %v", table, err)
		}
		want := slices.Clone(table)
		for i := range want {
			for n := len(want[i].Argv); n > 0 && want[i].Argv[n-1] == ""; n-- {
				want[i].Argv = want[i].Argv[:n-1]
			}
			if len(want[i].Argv) == 0 {
				want[i].Argv = nil
			}
		}
		slices.SortFunc(want, func(a, b Process) int { return a.PID - b.PID })
		same := len(got) == len(want)
		for i := 0; same && i < len(got); i++ {
			same = got[i].PID == want[i].PID && got[i].PPID == want[i].PPID && slices.Equal(got[i].Argv, want[i].Argv)
		}
		if !same {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	})
}

// FuzzDetect: detection from any process table (PID 1 and a child) and any container command never
// panics (shell scripts go through a real shell parser), names a runtime and why, and the process it
// picks is one of the table's; Spare and ExecBinaryPath, which read the same command lines, stay within
// them.
func FuzzDetect(f *testing.F) {
	f.Add("sh\x00-c\x00cd /app && exec python3 -m gunicorn -w 2 app:app", "gunicorn\x00-w\x002\x00app:app", "")
	f.Add("tini\x00--\x00node\x00/app/server.js", "node\x00/app/server.js", "node\x00/app/server.js")
	f.Add("java\x00-jar\x00/app/app.jar", "", "")
	f.Add("/kindling/kindling-supervisor\x00run\x00--hold\x0060\x00--\x00ruby\x00/app/a.rb", "ruby\x00/app/a.rb", "")
	f.Add("bash\x00-c\x00for i in $(seq 3); do echo \"$i\"; done; exec uvicorn --workers 2 app:app ${X:-y} <<EOF\nx\nEOF", "", "sh\x00-c\x00'unterminated")
	f.Add("", "", "npm\x00start")
	f.Add("nginx: master process nginx -g daemon off;", "nginx: worker process", "")
	src := f.TempDir()
	f.Fuzz(func(t *testing.T, cmdline1, cmdline2, command string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\x00")
		}
		procs := []Process{{PID: 1, Argv: split(cmdline1)}, {PID: 2, PPID: 1, Argv: split(cmdline2)}}
		det, err := Detect(Input{Procs: procs, Command: split(command), Src: src})
		if err == nil {
			if det.Runtime.Name == "" || det.Reason == "" {
				t.Fatalf("detection without a runtime or a reason: %+v", det)
			}
			if det.Process != nil && det.Process.PID != 1 && det.Process.PID != 2 {
				t.Fatalf("picked process %d, not in the table", det.Process.PID)
			}
		}
		for _, p := range procs {
			if script, at, ok := Spare(p.Argv); ok && (script == "" || at < 1 || at >= len(p.Argv)) {
				t.Fatalf("Spare(%q) = %q at %d", p.Argv, script, at)
			}
			if bin := ExecBinaryPath(p); bin != "" && (!path.IsAbs(bin) || path.Clean(bin) != bin) {
				t.Fatalf("ExecBinaryPath(%q) = %q: not an absolute clean path", p.Argv, bin)
			}
		}
	})
}
