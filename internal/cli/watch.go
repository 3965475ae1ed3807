package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kindling-dev/kindling/internal/ignore"
	"github.com/kindling-dev/kindling/internal/plan"
	"github.com/kindling-dev/kindling/internal/watch"
)

// sharedWatch is one file watcher over the source trees of every entry of a run: it watches their
// closest common directory, minus whatever no entry syncs, and hands each entry the changes under its
// own --src as paths relative to it. One watcher, not one per entry, keeps a project of many services
// within the system's limits on watchers.
type sharedWatch struct {
	watcher watch.Source
	feeds   []<-chan string
}

// watchedEntry is an entry as the shared watcher sees it.
type watchedEntry struct {
	// dir is the entry's --src relative to the watched root, "" when it is the root.
	dir      string
	excluded plan.Excluded
	feed     chan string
	// lost is set when the feed was full (the entry stopped reading): it is owed a full rescan.
	lost bool
	// skipped, with -v, says why a change under --src is not synced.
	skipped *skipReporter
}

func watchEntries(entries []syncOptions, rep *reporter, poll time.Duration) (*sharedWatch, error) {
	watched := make([]*watchedEntry, len(entries))
	dirs := make([]string, len(entries))
	for i, o := range entries {
		dir, err := watch.RealDir(o.src)
		if err != nil {
			return nil, err
		}
		matcher, err := ignore.New(o.src, o.excludes)
		if err != nil {
			return nil, usageError{err}
		}
		dirs[i] = dir
		watched[i] = &watchedEntry{excluded: watchExcluded(matcher.Excluded, o.src, o.buildOutput), feed: make(chan string, 1024)}
		if rep.verbose {
			watched[i].skipped = newSkipReporter(rep.entry(o.deployment, len(entries) > 1).out, matcher)
		}
	}
	// The first walk of the tree meets every excluded path: only changes after it are worth a -v line.
	var walked atomic.Bool
	root := commonDir(dirs)
	for i, dir := range dirs {
		rel, _ := filepath.Rel(root, dir)
		if rel == "." {
			rel = ""
		}
		watched[i].dir = filepath.ToSlash(rel)
	}
	newSource := func(root string, excluded func(string, bool) bool) (watch.Source, error) {
		return watch.New(root, excluded)
	}
	if poll > 0 {
		newSource = func(root string, excluded func(string, bool) bool) (watch.Source, error) {
			return watch.NewPoller(root, excluded, poll)
		}
	}
	w, err := newSource(root, func(rel string, isDir bool) bool {
		excluded := true
		for _, e := range watched {
			inner, ok := e.inside(rel)
			switch {
			case ok && (inner == "" || !e.excluded(inner, isDir)) || e.below(rel):
				excluded = false
			case ok && e.skipped != nil && walked.Load():
				e.skipped.Report(inner, isDir)
			}
		}
		return excluded
	})
	if err != nil {
		return nil, err
	}
	walked.Store(true)
	errorsOut := &lineWriter{r: rep}
	go func() {
		for err := range w.Errors() {
			fmt.Fprintf(errorsOut, "kindling: watcher: %v\n", err)
		}
	}()
	go func() {
		for rel := range w.Changes() {
			for _, e := range watched {
				e.pass(rel)
			}
		}
		for _, e := range watched {
			close(e.feed)
		}
	}()
	s := &sharedWatch{watcher: w}
	for _, e := range watched {
		s.feeds = append(s.feeds, e.feed)
	}
	return s, nil
}

// Close stops watching; the feeds are closed once the last change is passed on.
func (s *sharedWatch) Close() error { return s.watcher.Close() }

// pass hands the entry a change of the watched root's that concerns it: a path under its --src, or a
// full rescan when its --src itself (or a directory above it) changed or events were lost.
func (e *watchedEntry) pass(rel string) {
	var change string
	switch inner, ok := e.inside(rel); {
	case rel == watch.RescanAll || e.below(rel):
		change = watch.RescanAll
	case !ok:
		return
	case inner == "":
		change = watch.RescanAll
	case e.excluded(inner, false) && e.excluded(inner, true):
		return
	default:
		change = inner
	}
	if e.lost {
		select {
		case e.feed <- watch.RescanAll:
			e.lost = false
		default:
			return
		}
	}
	select {
	case e.feed <- change:
	default:
		e.lost = true
	}
}

// inside tells whether rel (relative to the watched root) is the entry's --src or under it, and gives
// its path relative to --src.
func (e *watchedEntry) inside(rel string) (string, bool) {
	switch {
	case e.dir == "":
		return rel, true
	case rel == e.dir:
		return "", true
	case strings.HasPrefix(rel, e.dir+"/"):
		return rel[len(e.dir)+1:], true
	}
	return "", false
}

// below tells whether the entry's --src lies under rel.
func (e *watchedEntry) below(rel string) bool {
	return rel != "" && strings.HasPrefix(e.dir, rel+"/")
}

// commonDir is the deepest directory that holds every one of dirs (absolute, clean paths).
func commonDir(dirs []string) string {
	common := dirs[0]
	for _, d := range dirs[1:] {
		for common != d && !strings.HasPrefix(d, strings.TrimSuffix(common, string(filepath.Separator))+string(filepath.Separator)) {
			common = filepath.Dir(common)
		}
	}
	return common
}
