package transport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kindling-dev/kindling/internal/plan"
)

// Manifest reads the tree under dest (a *NotWritableError when the container's user cannot write there):
// a listing, then, for the paths that are not excluded, a description (stat and sha256 of each file).
// Where find has -printf (GNU), the listing carries each path's stat key and symlink target in the same
// pass. With the hashes of an earlier run (the hash
// cache), only the files whose stat key changed are hashed. No command's input depends on its own
// output, so all of them can run on a Session.
//
// Degraded containers: without sha256sum, files come back with an empty Hash, so they always differ
// from the local tree and are sent again; without find, xargs or stat, the tree is reported empty (see
// the warnings).
//
// A listed path that lies under a symbolic link, or is one, when it is described was changed after the
// listing (find lists a symlink, never what is under it). It is not read, since stat and sha256sum would
// follow the link wherever it leads, and the tree is listed again: relists times at most, then the
// error is left to the caller (the engine reads the tree again on its next try).
func (s *Shell) Manifest(ctx context.Context, dest string) (plan.Tree, error) {
	for attempt := 0; ; attempt++ {
		tree, err := s.manifest(ctx, dest)
		var linked *linkedError
		if !errors.As(err, &linked) || attempt == relists {
			return tree, err
		}
		if cache := s.cache(dest); cache != nil {
			cache.dropListing()
		}
	}
}

// relists is how many times Manifest lists a tree again that changed under it (see linkedError).
const relists = 2

// linkedError says that a path of the listing is, or lies under, a symbolic link that the listing did not
// show: the tree changed after it was listed. The path was not read.
type linkedError struct{ path, link string }

func (e *linkedError) Error() string {
	return fmt.Sprintf("%s was not read: %s is a symbolic link made after the listing, which may lead out of the destination",
		e.path, e.link)
}

// manifest is one try of Manifest.
func (s *Shell) manifest(ctx context.Context, dest string) (plan.Tree, error) {
	// The cache is read while the container's tools and listing are asked for: reading 10,000 entries takes
	// about as long as the round trip.
	cache := s.cache(dest)
	var known map[string]cachedFile
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		if cache != nil {
			known = cache.load()
		}
	}()
	// A kept listing means that the container had GNU find and sha256sum when it was kept: the listing is
	// asked for before the tools are known, so that on a Session it runs as soon as the shell is up, with
	// no round trip in between. The tools confirm it, or it is asked for again.
	var early *listing
	if cache != nil && !s.probed() && cache.hasListing() {
		early = &listing{}
		early.tree, early.wanted, early.keys, early.err = s.list(ctx, dest, true, cache)
	}
	tools, err := s.probe(ctx)
	<-loaded
	if err != nil {
		return nil, err
	}
	if !canManifest(tools) {
		return plan.Tree{}, nil
	}
	hashed := tools["sha256sum"]
	if !hashed {
		cache, known = nil, nil
	}
	statted := tools[findPrintf]
	var tree plan.Tree
	var wanted []string
	var keys map[string]string
	if early != nil && early.err == nil && statted && hashed {
		tree, wanted, keys = early.tree, early.wanted, early.keys
	} else {
		tree, wanted, keys, err = s.list(ctx, dest, statted, cache)
	}
	if errors.Is(err, errLocked) {
		return nil, &NotWritableError{Dest: dest, Target: s.exec.Target(), Reason: "not writable"}
	}
	if err != nil {
		return nil, err
	}
	if !statted {
		if err := s.describe(ctx, dest, wanted, hashed && known == nil, tree, keys); err != nil {
			return nil, err
		}
	}
	if hashed {
		var unhashed []string
		for p, e := range tree {
			if e.Kind != plan.File || e.Hash != "" {
				continue
			}
			if c, ok := known[p]; ok && keys[p] != "" && c.key == keys[p] {
				e.Hash = c.hash
				tree[p] = e
			} else {
				unhashed = append(unhashed, p)
			}
		}
		sort.Strings(unhashed)
		if err := s.describe(ctx, dest, unhashed, true, tree, keys); err != nil {
			return nil, err
		}
	}
	if fresh := cacheable(tree, keys); cache != nil && !maps.Equal(fresh, known) {
		cache.save(fresh)
	}
	return tree, nil
}

// listing is what list returns.
type listing struct {
	tree   plan.Tree
	wanted []string
	keys   map[string]string
	err    error
}

// list runs the listing of dest: listScript, or with GNU find listStatScript, which with a cache sends
// the fingerprint of the listing kept from before, is read from that copy when the container finds the
// tree unchanged, and is kept for next time.
func (s *Shell) list(ctx context.Context, dest string, statted bool, cache *hashCache) (tree plan.Tree, wanted []string, keys map[string]string, err error) {
	keys = map[string]string{}
	if !statted {
		argv := append([]string{"sh", "-c", listScript, "kindling", dest}, s.prune...)
		err = s.query(ctx, dest, argv, nil, func(stdout io.Reader) (err error) {
			tree, wanted, err = s.readListing(stdout, false, keys, nil)
			return err
		})
		return tree, wanted, keys, err
	}
	// The kept listing is read while the container lists its tree: most often that is the answer.
	var keptRead chan struct{}
	var keptTree plan.Tree
	var keptWanted []string
	var keptErr error
	keptKeys := map[string]string{}
	fingerprint := ""
	if cache != nil {
		var kept []byte
		fingerprint, kept = cache.listing()
		if kept != nil {
			keptRead = make(chan struct{})
			go func() {
				defer close(keptRead)
				keptTree, keptWanted, keptErr = s.readListing(bytes.NewReader(kept), true, keptKeys, nil)
			}()
		}
	}
	argv := append([]string{"sh", "-c", listStatScript, "kindling", dest, fingerprint}, s.prune...)
	var raw bytes.Buffer
	sum := sha256.New()
	unchanged := false
	err = s.query(ctx, dest, argv, nil, func(stdout io.Reader) (err error) {
		in := bufio.NewReaderSize(stdout, 64<<10)
		if head, _ := in.Peek(len(listingUnchanged) + 1); string(head) == listingUnchanged+"\x00" {
			unchanged = true
			return nil
		}
		if cache == nil {
			tree, wanted, err = s.readListing(in, true, keys, nil)
			return err
		}
		tree, wanted, err = s.readListing(io.TeeReader(in, &raw), true, keys, sum)
		return err
	})
	if keptRead != nil {
		<-keptRead
	}
	switch {
	case err != nil:
		return nil, nil, nil, err
	case unchanged: // only ever the answer to a fingerprint sent, which comes with its listing
		return keptTree, keptWanted, keptKeys, keptErr
	case cache != nil && raw.Len() > 0: // a dest that does not exist answers nothing
		cache.keepListing(hex.EncodeToString(sum.Sum(nil)), raw.Bytes())
	}
	return tree, wanted, keys, err
}

// describe runs describeScript for paths (symlinks first, then files), in commands whose input fits a
// Session, and adds what it answers to tree and keys.
func (s *Shell) describe(ctx context.Context, dest string, paths []string, hashed bool, tree plan.Tree, keys map[string]string) error {
	mode := "none"
	if hashed {
		mode = "sha256"
	}
	for len(paths) > 0 {
		var stdin bytes.Buffer
		n := 0
		for ; n < len(paths) && (n == 0 || stdin.Len()+len(paths[n])+3 <= MaxSessionInput); n++ {
			stdin.WriteString("./" + paths[n] + "\x00")
		}
		batch := paths[:n]
		paths = paths[n:]
		argv := []string{"sh", "-c", describeScript, "kindling", dest, manifestBatchScript, mode}
		err := s.query(ctx, dest, argv, stdin.Bytes(), func(stdout io.Reader) error {
			return readBatches(&nulReader{r: bufio.NewReaderSize(stdout, 64<<10)}, batch, hashed, tree, keys)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var errLocked = errors.New("dest not writable")

// query runs a command that reads the files of dest, parsing its output while it comes. An output that
// makes no sense is still read to its end, so that a Session stays in step.
func (s *Shell) query(ctx context.Context, dest string, argv []string, stdin []byte, parse func(stdout io.Reader) error) error {
	r, w := io.Pipe()
	parsed := make(chan error, 1)
	go func() {
		err := parse(r)
		io.Copy(io.Discard, r)
		parsed <- err
	}()
	var stderr bytes.Buffer
	var in io.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	err := s.exec.Exec(ctx, argv, in, w, &stderr)
	w.Close()
	perr := <-parsed
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil && exitCode(err) == exitLocked:
		return errLocked
	case err != nil:
		return s.failure("reading the files of", dest, err, stderr.Bytes())
	case perr != nil:
		return fmt.Errorf("reading the files of %s in %s: %w", dest, s.exec.Target(), perr)
	}
	return nil
}

// cacheable is what the cache keeps of a tree: the files whose hash and stat key are known.
func cacheable(tree plan.Tree, keys map[string]string) map[string]cachedFile {
	files := map[string]cachedFile{}
	for p, e := range tree {
		if e.Kind == plan.File && e.Hash != "" && keys[p] != "" {
			files[p] = cachedFile{key: keys[p], hash: e.Hash}
		}
	}
	return files
}

// listed is one path of the container's listing.
type listed struct {
	path  string // relative to dest, as in a plan.Tree
	entry plan.Entry
	key   string // a file's stat key, when the listing has it
}

// readListing parses the output of listScript, or with statted of listStatScript (recording each file's
// stat key in keys), into the tree of its directories (and, statted, its symlinks and files) and the
// paths left to describe: the symlinks, then the files, that are not excluded. An absent dest is an
// empty tree.
func (s *Shell) readListing(stdout io.Reader, statted bool, keys map[string]string, content io.Writer) (tree plan.Tree, wanted []string, err error) {
	in := bufio.NewReaderSize(stdout, 64<<10)
	var listing io.Reader = in
	if magic, _ := in.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		if listing, err = gzip.NewReader(in); err != nil {
			return nil, nil, err
		}
	}
	if content != nil {
		listing = io.TeeReader(listing, content)
	}
	r := &nulReader{r: bufio.NewReaderSize(listing, 64<<10)}
	header, err := r.field()
	if err == io.EOF {
		return plan.Tree{}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if header != manifestHeader {
		return nil, nil, fmt.Errorf("unexpected output %q", header)
	}
	read := readNames
	if statted {
		read = readStatted
	}
	all, err := read(r)
	if err != nil {
		return nil, nil, err
	}
	if _, err := r.field(); err != io.EOF {
		return nil, nil, errors.New("unexpected output after the listing")
	}
	kept := s.included(all)
	tree = make(plan.Tree, len(kept)) // every path kept, once described if it is not yet
	var links, files []string
	for _, l := range kept {
		switch {
		case l.entry.Kind == plan.Dir || statted:
			tree[l.path] = l.entry
			if l.key != "" {
				keys[l.path] = l.key
			}
		case l.entry.Kind == plan.Symlink:
			links = append(links, l.path)
		case l.entry.Kind == plan.File:
			files = append(files, l.path)
		}
	}
	return tree, append(links, files...), nil
}

// readNames reads listScript's names: directories, symlinks, then files, each list ended by an empty record.
func readNames(r *nulReader) ([]listed, error) {
	var all []listed
	for _, kind := range []plan.Kind{plan.Dir, plan.Symlink, plan.File} {
		for {
			name, err := r.field()
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			if name == "" {
				break
			}
			if name != "." {
				all = append(all, listed{path: strings.TrimPrefix(name, "./"), entry: plan.Entry{Kind: kind}})
			}
		}
	}
	return all, nil
}

// findKinds are the kinds of find's %y that a tree holds.
var findKinds = map[string]plan.Kind{"d": plan.Dir, "l": plan.Symlink, "f": plan.File}

// readStatted reads listStatScript's records: kind, path, stat line, symlink target. Each field is used
// where it lies in the reader's buffer, before the next read reuses it: only what the tree keeps is
// copied out.
func readStatted(r *nulReader) ([]listed, error) {
	var all []listed
	for {
		letter, err := r.fieldBytes()
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		kind := findKinds[string(letter)] // 0 for sockets, devices and pipes, which are not synced
		path, err := r.fieldBytes()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if string(path) == "." {
			kind = 0 // dest itself
		}
		l := listed{entry: plan.Entry{Kind: kind}}
		if kind != 0 {
			l.path = string(bytes.TrimPrefix(path, []byte("./")))
		}
		stat, err := r.fieldBytes()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if kind == plan.File {
			l.entry = statEntry(stat)
			if l.entry.Size >= 0 {
				l.key = canonicalKey(stat)
			}
		}
		target, err := r.fieldBytes()
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if kind == plan.Symlink {
			l.entry.Hash = string(target)
		}
		if kind != 0 {
			if len(all) == cap(all) {
				// Doubled: append would grow a long slice by a quarter, copying all of it each time.
				all = slices.Grow(all, len(all))
			}
			all = append(all, l)
		}
	}
}

// included drops excluded paths, and everything inside an excluded directory, like plan.Scan does.
func (s *Shell) included(all []listed) []listed {
	if s.excluded == nil {
		return all
	}
	sort.Slice(all, func(i, j int) bool { return all[i].path < all[j].path }) // parents first
	excludedDirs := map[string]bool{}
	kept := all[:0]
	for _, l := range all {
		isDir := l.entry.Kind == plan.Dir
		dir := l.path[:max(0, strings.LastIndexByte(l.path, '/'))]
		if excludedDirs[dir] || s.excluded(l.path, isDir) {
			if isDir {
				excludedDirs[l.path] = true
			}
			continue
		}
		kept = append(kept, l)
	}
	return kept
}

// readBatches parses manifestBatchScript's output for the paths wanted (symlinks first, then files),
// adding their entries to tree.
func readBatches(r *nulReader, wanted []string, hashed bool, tree plan.Tree, keys map[string]string) error {
	next := 0
	for next < len(wanted) {
		tag, err := r.field()
		if err != nil {
			return unexpectedEOF(err)
		}
		if tag == "L" {
			return readLinked(r)
		}
		n, err := r.number()
		if tag != "B" || err != nil || n > len(wanted)-next {
			return fmt.Errorf("unexpected batch header %q", tag)
		}
		batch := wanted[next : next+n]
		next += n
		links := 0
		for ; ; links++ {
			tag, err := r.field()
			if err != nil {
				return unexpectedEOF(err)
			}
			if tag == "S" {
				break
			}
			if tag == "L" {
				return readLinked(r)
			}
			if tag != "l" || links == n {
				return fmt.Errorf("unexpected symlink record %q", tag)
			}
			target, err := r.field()
			if err != nil {
				return unexpectedEOF(err)
			}
			tree[batch[links]] = plan.Entry{Kind: plan.Symlink, Hash: target}
		}
		if m, err := r.number(); err != nil || m != n-links {
			return fmt.Errorf("batch of %d paths reported %d symlinks and %d files", n, links, m)
		}
		if err := readFiles(r, batch[links:], hashed, tree, keys); err != nil {
			return err
		}
	}
	if _, err := r.field(); err != io.EOF {
		return errors.New("unexpected output after the last batch")
	}
	return nil
}

// readLinked reads manifestBatchScript's record of a path it refused to read: the path, then the
// symbolic link that is it or lies above it.
func readLinked(r *nulReader) error {
	path, err := r.field()
	if err != nil {
		return unexpectedEOF(err)
	}
	link, err := r.field()
	if err != nil {
		return unexpectedEOF(err)
	}
	return &linkedError{path: strings.TrimPrefix(path, "./"), link: strings.TrimPrefix(link, "./")}
}

// readFiles parses the stat lines and, if hashed, the hashes of one batch's files.
func readFiles(r *nulReader, files []string, hashed bool, tree plan.Tree, keys map[string]string) error {
	if len(files) == 0 {
		return nil
	}
	for _, f := range files {
		line, err := r.lineBytes()
		if err != nil {
			return err
		}
		e := statEntry(line)
		tree[f] = e
		if e.Size >= 0 {
			keys[f] = canonicalKey(line)
		}
	}
	if !hashed {
		return nil
	}
	tag, err := r.field()
	if err != nil {
		return unexpectedEOF(err)
	}
	for _, f := range files {
		var hash string
		switch tag {
		case "h":
			hash, err = r.sha256sumLine("./" + f)
		case "p":
			hash, err = r.line()
		default:
			return fmt.Errorf("unexpected hash record %q", tag)
		}
		if err != nil {
			return unexpectedEOF(err)
		}
		e := tree[f]
		e.Hash = hash
		tree[f] = e
	}
	return nil
}

// statEntry is the file entry a stat line ("size mode ..." with an octal mode) describes; a line for a file
// that could not be read ("- -") gives size -1.
func statEntry(line []byte) plan.Entry {
	e := plan.Entry{Kind: plan.File, Size: -1}
	sizeText, rest, _ := bytes.Cut(line, []byte(" "))
	modeText, _, _ := bytes.Cut(rest, []byte(" "))
	if size, err := strconv.ParseInt(string(sizeText), 10, 64); err == nil {
		e.Size = size
	}
	if mode, err := strconv.ParseUint(string(modeText), 8, 32); err == nil {
		e.Exec = mode&0o100 != 0
	}
	return e
}

// canonicalKey writes a stat key "size mode inode mtime ctime" with both times in nanoseconds since the
// epoch, whether they came as stat's dates ("2026-01-02 15:04:05.123456789 +0000") or find's seconds
// ("1767366245.1234567890"), so that a listing and a description of the same file agree. A line in
// neither form is kept as it is.
func canonicalKey(line []byte) string {
	find, isFind := findFields(line)
	fields := find[:]
	if !isFind {
		fields = bytes.Fields(line)
	}
	var times [2][]byte
	switch len(fields) {
	case 5:
		times = [2][]byte{fields[3], fields[4]}
	case 9:
		times = [2][]byte{bytes.Join(fields[3:6], []byte(" ")), bytes.Join(fields[6:], []byte(" "))}
	default:
		return string(line)
	}
	var ns [2]int64
	for i, t := range times {
		n, ok := nanos(t)
		if !ok {
			return string(line)
		}
		ns[i] = n
	}
	var buf [96]byte // holds the key of any find line, so that the key's string is its only allocation
	key := append(buf[:0], fields[0]...)
	for _, f := range fields[1:3] {
		key = append(append(key, ' '), f...)
	}
	for _, n := range ns {
		key = strconv.AppendInt(append(key, ' '), n, 10)
	}
	return string(key)
}

// findFields splits find's stat line, five fields with one space between each, without the allocation of
// bytes.Fields; ok is false for any other line, which bytes.Fields splits instead.
func findFields(line []byte) (fields [5][]byte, ok bool) {
	n, start := 0, 0
	for i, c := range line {
		switch {
		case c == ' ':
			if i == start || n == len(fields)-1 {
				return fields, false
			}
			fields[n] = line[start:i]
			n, start = n+1, i+1
		case c < ' ' || c >= utf8.RuneSelf:
			return fields, false // maybe another of the spaces bytes.Fields splits at
		}
	}
	if n != len(fields)-1 || start == len(line) {
		return fields, false
	}
	fields[n] = line[start:]
	return fields, true
}

// nanos parses a time of stat (%y) or find (%T@) into nanoseconds since the epoch.
func nanos(t []byte) (int64, bool) {
	if bytes.Contains(t, []byte("-")) {
		tm, err := time.Parse("2006-01-02 15:04:05.999999999 -0700", string(t))
		return tm.UnixNano(), err == nil
	}
	secText, frac, _ := bytes.Cut(t, []byte("."))
	sec, err := strconv.ParseInt(string(secText), 10, 64)
	if err != nil {
		return 0, false
	}
	nsText := [9]byte{'0', '0', '0', '0', '0', '0', '0', '0', '0'}
	copy(nsText[:], frac) // digits beyond the nanosecond are dropped
	n, err := strconv.ParseInt(string(nsText[:]), 10, 64)
	return sec*1e9 + n, err == nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// nulReader reads the manifest's NUL-framed records.
type nulReader struct{ r *bufio.Reader }

// field reads up to the next NUL; io.EOF means the output ended cleanly before it.
func (n *nulReader) field() (string, error) {
	b, err := n.fieldBytes()
	return string(b), err
}

// fieldBytes is field without a copy: the bytes are valid until the next read.
func (n *nulReader) fieldBytes() ([]byte, error) {
	b, err := n.until(0)
	if err != nil {
		if err == io.EOF && len(b) != 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b[:len(b)-1], nil
}

// until reads up to and including delim, in the reader's buffer when it fits there.
func (n *nulReader) until(delim byte) ([]byte, error) {
	b, err := n.r.ReadSlice(delim)
	if err != bufio.ErrBufferFull {
		return b, err
	}
	whole := bytes.Clone(b)
	for err == bufio.ErrBufferFull {
		b, err = n.r.ReadSlice(delim)
		whole = append(whole, b...)
	}
	return whole, err
}

func (n *nulReader) number() (int, error) {
	s, err := n.field()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

func (n *nulReader) line() (string, error) {
	b, err := n.lineBytes()
	return string(b), err
}

// lineBytes is line without a copy: the bytes are valid until the next read.
func (n *nulReader) lineBytes() ([]byte, error) {
	b, err := n.until('\n')
	if err != nil {
		return nil, unexpectedEOF(err)
	}
	return b[:len(b)-1], nil
}

// sha256sumLine reads sha256sum's line for the file it was given as name. GNU sha256sum escapes names
// containing a newline or backslash and marks such lines with a leading backslash; BusyBox prints every
// name as is, newlines included. Knowing the name makes both unambiguous.
func (n *nulReader) sha256sumLine(name string) (string, error) {
	escaped := false
	if b, err := n.r.Peek(1); err == nil && b[0] == '\\' {
		escaped = true
		n.r.Discard(1)
	}
	const hexLen = 64
	head := make([]byte, hexLen+2) // the hash, then "  " (text mode) or " *" (binary mode)
	if _, err := io.ReadFull(n.r, head); err != nil {
		return "", unexpectedEOF(err)
	}
	hash := string(head[:hexLen])
	if escaped {
		_, err := n.line()
		return hash, err
	}
	rest := make([]byte, len(name)+1)
	if _, err := io.ReadFull(n.r, rest); err != nil {
		return "", unexpectedEOF(err)
	}
	if string(rest[:len(name)]) != name || rest[len(name)] != '\n' {
		return "", fmt.Errorf("sha256sum output for %q does not match", name)
	}
	return hash, nil
}
