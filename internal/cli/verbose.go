package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kindling-dev/kindling/internal/engine"
	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/plan"
)

// skippedLine is what -v says about a change the exclude rules left out, e.g.
//
//	kindling: skipped app/x.pyc: excluded by "*.pyc" (default; --exclude '!*.pyc' syncs it)
//	kindling: skipped web/node_modules/a.js: in web/node_modules, excluded by "node_modules" (default; ...)
//	kindling: skipped gen/m.go: excluded by "gen/" (.kindlingignore:3)
//
// It is "" for a path that is not excluded. Only a default rule gets the hint: the user wrote the others.
func skippedLine(m *ignore.Matcher, rel string, isDir bool) string {
	why := m.Why(rel, isDir)
	if !why.Excluded {
		return ""
	}
	var b strings.Builder
	b.WriteString("kindling: skipped " + rel + ": ")
	if why.Path != rel {
		b.WriteString("in " + why.Path + ", ")
	}
	fmt.Fprintf(&b, "excluded by %q (%s", why.Rule, why.Source)
	if why.Source == ignore.SourceDefault {
		b.WriteString("; --exclude " + shellWord("!"+why.Rule) + " syncs it")
	}
	b.WriteString(")")
	return b.String()
}

// skipReporter prints skippedLine for the watcher's excluded events under -v. An editor's save is often
// several events on one path (write, chmod, rename of a swap file): the same path is said once per
// quiet period, not once per event.
type skipReporter struct {
	out     io.Writer
	matcher *ignore.Matcher
	now     func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
}

// skipQuiet is how long a path is not reported again.
const skipQuiet = 2 * time.Second

func newSkipReporter(out io.Writer, m *ignore.Matcher) *skipReporter {
	return &skipReporter{out: out, matcher: m, now: time.Now, last: map[string]time.Time{}}
}

// Report prints why rel was skipped, unless it was said less than skipQuiet ago or rel is not excluded.
func (r *skipReporter) Report(rel string, isDir bool) {
	line := skippedLine(r.matcher, rel, isDir)
	if line == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if t, ok := r.last[rel]; ok && now.Sub(t) < skipQuiet {
		return
	}
	if len(r.last) > 4096 {
		// A build writing thousands of excluded files must not grow this for the whole session.
		for p, t := range r.last {
			if now.Sub(t) >= skipQuiet {
				delete(r.last, p)
			}
		}
	}
	r.last[rel] = now
	fmt.Fprintln(r.out, line)
}

// largeWarning is the one-time warning about a tree that is heavy to sync, naming the biggest files and
// the excludes that would leave them out; nil when the tree is not heavy. The caller prints the lines.
func largeWarning(w plan.Weight) []string {
	var lines []string
	if w.LargeFiles > 0 {
		head := fmt.Sprintf("kindling: %s over %s (%s in all) make syncs slow:",
			plural(w.LargeFiles, "file"), strconv.Itoa(plan.LargeFile>>20)+" MB", engine.HumanBytes(w.LargeBytes))
		if w.LargeFiles == 1 {
			head = fmt.Sprintf("kindling: 1 file over %s makes syncs slow:", strconv.Itoa(plan.LargeFile>>20)+" MB")
		}
		lines = append(lines, head)
		for _, it := range w.Largest {
			lines = append(lines, fmt.Sprintf("  %9s  %s", engine.HumanBytes(it.Size), it.Path))
		}
		if more := w.LargeFiles - len(w.Largest); more > 0 {
			lines = append(lines, fmt.Sprintf("  and %d more", more))
		}
		// A directory rule for a directory of large files, one rule per large file named outside those.
		var excludes []string
		for _, d := range w.LargeDirs {
			excludes = append(excludes, "--exclude "+shellWord(ignore.PatternFor(d, true)))
		}
		for _, it := range w.Largest {
			if !underAny(it.Path, w.LargeDirs) {
				excludes = append(excludes, "--exclude "+shellWord(ignore.PatternFor(it.Path, false)))
			}
		}
		them, each := "them", "a line each"
		if len(excludes) == 1 {
			them, each = "it", "a line"
		}
		lines = append(lines, "  if the app does not need "+them+": "+strings.Join(excludes, " ")+" (or "+each+" in "+ignore.FileName+")")
	}
	if w.Many {
		line := fmt.Sprintf("kindling: %s files make the first sync slow", thousands(int64(w.Files)))
		if w.Crowded != "" {
			line += fmt.Sprintf("; %s of them are under %s: if the app does not need them, --exclude %s",
				thousands(int64(w.CrowdedFiles)), w.Crowded, shellWord(ignore.PatternFor(w.Crowded, true)))
		} else {
			line += "; exclude what the app does not need with --exclude or " + ignore.FileName
		}
		lines = append(lines, line)
	}
	return lines
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// shellWord quotes s for a POSIX shell, so that a suggested flag can be pasted as it is.
func shellWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// thousands writes n with thousands separators: 10,000 files reads faster than 10000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
