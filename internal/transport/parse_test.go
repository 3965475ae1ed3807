package transport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kindling-dev/kindling/internal/plan"
)

// The parsers of stat lines, listings and hash caches read in place, without a string per field. The
// reference* functions are what they were before, kept so that the tests can hold them to exactly the
// same results.

func referenceStatEntry(line string) plan.Entry {
	e := plan.Entry{Kind: plan.File, Size: -1}
	sizeText, rest, _ := strings.Cut(line, " ")
	modeText, _, _ := strings.Cut(rest, " ")
	if size, err := strconv.ParseInt(sizeText, 10, 64); err == nil {
		e.Size = size
	}
	if mode, err := strconv.ParseUint(modeText, 8, 32); err == nil {
		e.Exec = mode&0o100 != 0
	}
	return e
}

func referenceCanonicalKey(line string) string {
	f := strings.Fields(line)
	var times []string
	switch len(f) {
	case 5:
		times = f[3:]
	case 9:
		times = []string{strings.Join(f[3:6], " "), strings.Join(f[6:], " ")}
	default:
		return line
	}
	var ns [2]int64
	for i, t := range times {
		n, ok := referenceNanos(t)
		if !ok {
			return line
		}
		ns[i] = n
	}
	return fmt.Sprintf("%s %s %s %d %d", f[0], f[1], f[2], ns[0], ns[1])
}

func referenceNanos(t string) (int64, bool) {
	if strings.Contains(t, "-") {
		tm, err := time.Parse("2006-01-02 15:04:05.999999999 -0700", t)
		return tm.UnixNano(), err == nil
	}
	secText, frac, _ := strings.Cut(t, ".")
	sec, err := strconv.ParseInt(secText, 10, 64)
	if err != nil {
		return 0, false
	}
	frac = (frac + "000000000")[:9]
	n, err := strconv.ParseInt(frac, 10, 64)
	return sec*1e9 + n, err == nil
}

func referenceField(r *bufio.Reader) (string, error) {
	s, err := r.ReadString(0)
	if err != nil {
		if err == io.EOF && s != "" {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return s[:len(s)-1], nil
}

func referenceReadStatted(r *bufio.Reader) ([]listed, error) {
	var all []listed
	for {
		var rec [4]string
		for i := range rec {
			f, err := referenceField(r)
			if err == io.EOF && i == 0 {
				return all, nil
			}
			if err != nil {
				return nil, unexpectedEOF(err)
			}
			rec[i] = f
		}
		kind, ok := findKinds[rec[0]]
		if !ok || rec[1] == "." {
			continue
		}
		l := listed{path: strings.TrimPrefix(rec[1], "./"), entry: plan.Entry{Kind: kind}}
		switch kind {
		case plan.Symlink:
			l.entry.Hash = rec[3]
		case plan.File:
			l.entry = referenceStatEntry(rec[2])
			if l.entry.Size >= 0 {
				l.key = referenceCanonicalKey(rec[2])
			}
		}
		all = append(all, l)
	}
}

func referenceLoad(path string) map[string]cachedFile {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	type seen struct {
		cachedFile
		seq int
	}
	written := map[string]seen{}
	deleted := map[string]int{}
	for seq := 0; ; seq++ {
		var rec [4]string
		for i := range rec {
			field, err := r.ReadString(0)
			if err == io.EOF && i == 0 && field == "" {
				files := make(map[string]cachedFile, len(written))
				for p, w := range written {
					if !referenceDeletedAfter(deleted, p, w.seq) {
						files[p] = w.cachedFile
					}
				}
				return files
			}
			if err != nil {
				return nil
			}
			rec[i] = field[:len(field)-1]
		}
		switch rec[0] {
		case "w":
			written[rec[1]] = seen{cachedFile{key: rec[2], hash: rec[3]}, seq}
		case "d":
			deleted[rec[1]] = seq
		default:
			return nil
		}
	}
}

func referenceDeletedAfter(deleted map[string]int, p string, seq int) bool {
	for {
		if d, ok := deleted[p]; ok && d > seq {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// statLines are stat lines from find (-printf '%s %m %i %T@ %C@') and stat (-c '%s %a %i %y %z'), and
// lines that are neither.
var statLines = []string{
	"5 644 123 1767366245.1234567890 1767366245.1234567890",
	"4096 755 2 1.0000000000 1.0000000000",
	"0 100 1 1767366245 1767366246",                // no fraction
	"7 644 9 1.5 2.25",                             // short fractions
	"7 644 9 1. 2.",                                // empty fractions
	"7 644 9 1767366245.9999999999 0.0000000001",   // ten digits: the tenth is dropped
	"7 644 9 1.123456789012345678901234567890 2.1", // a very long fraction
	"7 644 9 -1.5000000000 -2.0000000000",          // before the epoch: find's form has no dash
	"7 644 9 -1 1",
	"7 644 9 +1.5 2.+5",                // signs ParseInt takes
	"7 644 9 9300000000.5 1",           // nanoseconds past int64
	"7 644 9 99999999999999999999.5 1", // seconds past int64
	"7 644 9 .5 1",                     // no seconds
	"7 644 9 1.5x 1",                   // not a number
	"7 644 9 1.5.5 1",
	"7 644 9 1e3 1",
	"-1 644 9 1.5 1.5",                   // a negative size
	"99999999999999999999 644 9 1.5 1.5", // a size past int64
	"7 40000000000 9 1.5 1.5",            // a mode past 32 bits
	"7 9 9 1.5 1.5",                      // not octal
	"7 0644 9 1.5 1.5",
	"123456789012345678901234567890123456789012345678901234567890 644 1234567890123456789 1.5 2.5", // a long key
	"5 644 123 2026-01-02 15:04:05.123456789 +0000 2026-01-02 15:04:05.123456789 +0100",
	"5 644 123 2026-01-02 15:04:05 +0000 2026-01-02 15:04:05 -0700",             // no fraction
	"5 644 123 1960-01-02 15:04:05.5 +0000 1969-12-31 23:59:59.999999999 +0000", // before the epoch
	"5 644 123 2026-13-02 15:04:05 +0000 2026-01-02 15:04:05 +0000",             // no such month
	"5 644 123 2026-01-02 15:04:05.1234567891 +0000 2026-01-02 15:04:05 +0000",  // ten digits
	"5\t644\t123\t1.5\t2.5", // other spaces strings.Fields splits at
	"5  644 123 1.5 2.5",
	" 5 644 123 1.5 2.5 ",
	"5 644 123 1.5 2.5\n",
	"5\u00a0644 123 1.5 2.5",
	"5\u00a0644 123 1.5 2.5 x",
	"5\u2003644 123 1.5 2.5",
	"5 644 \xff 1.5 2.5",      // not UTF-8
	"5 644 12\x003 1.5 2.5",   // a control character
	"5 644 123 1.5",           // four fields
	"5 644 123 1.5 2.5 3.5",   // six
	"5 644 123 1 2 3 4 5",     // eight
	"5 644 123 1 2 3 4 5 6 7", // ten
	"- -",                     // a file stat could not read
	"",
	" ",
	"sh: 1: stat: not found",
	"5 644 123 2026-01-02 15:04:05",
}

func TestStatLinesParseAsBefore(t *testing.T) {
	for _, line := range statLines {
		if got, want := canonicalKey([]byte(line)), referenceCanonicalKey(line); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", line, got, want)
		}
		if got, want := statEntry([]byte(line)), referenceStatEntry(line); got != want {
			t.Errorf("statEntry(%q) = %+v, want %+v", line, got, want)
		}
	}
}

func FuzzStatLine(f *testing.F) {
	for _, line := range statLines {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if got, want := canonicalKey([]byte(line)), referenceCanonicalKey(line); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", line, got, want)
		}
		if got, want := statEntry([]byte(line)), referenceStatEntry(line); got != want {
			t.Errorf("statEntry(%q) = %+v, want %+v", line, got, want)
		}
	})
}

// TestFindKeyAllocatesOnlyTheKey: the key of find's stat line is the one string made of it.
func TestFindKeyAllocatesOnlyTheKey(t *testing.T) {
	line := []byte("5 644 123 1767366245.1234567890 1767366245.1234567890")
	if n := testing.AllocsPerRun(100, func() { canonicalKey(line) }); n != 1 {
		t.Errorf("canonicalKey allocates %v times, want 1", n)
	}
}

// statListing is a listing with every kind of record, and fields longer than a small reader's buffer.
func statListing() []byte {
	var b bytes.Buffer
	for _, l := range generateListing(20) {
		writeRecord(&b, l.kind, l.path, l.stat, l.target)
	}
	long := strings.Repeat("x", 100)
	writeRecord(&b, "f", "./"+long, "5 644 1 1.5 2.5 "+long, "")
	writeRecord(&b, "l", "./link", "7 777 2 1.5 1.5", long)
	writeRecord(&b, "s", "./socket", "0 755 3 1.5 1.5", "")
	writeRecord(&b, "p", "./pipe", "0 644 4 1.5 1.5", "")
	writeRecord(&b, "f", "./unread", "- -", "")
	writeRecord(&b, "f", "./odd", "5\t644 1 -1.5 x", "")
	writeRecord(&b, "d", "./d/", "4096 755 5 1.5 1.5", "")
	writeRecord(&b, "f", "no-dot-slash", "5 755 6 1.5 1.5", "")
	for _, l := range statLines {
		writeRecord(&b, "f", "./f", l, "")
	}
	return b.Bytes()
}

func TestReadStattedAsBefore(t *testing.T) {
	listing := statListing()
	// Every listing cut short, through buffers that hold whole records and through buffers that do not.
	for _, size := range []int{16, 64 << 10} {
		for end := range len(listing) + 1 {
			in := listing[:end]
			got, err := readStatted(&nulReader{r: bufio.NewReaderSize(bytes.NewReader(in), size)})
			want, wantErr := referenceReadStatted(bufio.NewReaderSize(bytes.NewReader(in), size))
			if err != wantErr || !reflect.DeepEqual(got, want) {
				t.Fatalf("buffer %d, listing cut at %d of %d: got %v, %v; want %v, %v", size, end, len(listing), got, err, want, wantErr)
			}
		}
	}
}

func TestReadFilesAsBefore(t *testing.T) {
	var out strings.Builder
	var paths []string
	for i, line := range statLines {
		if !strings.Contains(line, "\n") {
			out.WriteString(line + "\n")
			paths = append(paths, fmt.Sprint("f", i))
		}
	}
	tree, keys := plan.Tree{}, map[string]string{}
	if err := readFiles(&nulReader{r: bufio.NewReaderSize(strings.NewReader(out.String()), 16)}, paths, false, tree, keys); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for i, p := range paths {
		want := referenceStatEntry(lines[i])
		if tree[p] != want {
			t.Errorf("%q: entry %+v, want %+v", lines[i], tree[p], want)
		}
		if want.Size >= 0 && keys[p] != referenceCanonicalKey(lines[i]) {
			t.Errorf("%q: key %q, want %q", lines[i], keys[p], referenceCanonicalKey(lines[i]))
		}
	}
}

// TestHashCacheLoadsAsBefore loads random histories of saves and updates (with paths rewritten and
// deleted again and again, directories included), and caches cut short or garbled.
func TestHashCacheLoadsAsBefore(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	randomPath := func() string {
		p := fmt.Sprint("d", rng.IntN(3))
		for range rng.IntN(3) {
			p += fmt.Sprint("/d", rng.IntN(3))
		}
		return p
	}
	for i := range 100 {
		c := &hashCache{path: filepath.Join(dir, fmt.Sprint(i))}
		if i%2 == 0 {
			files := map[string]cachedFile{}
			for j := range rng.IntN(20) {
				files[randomPath()] = cachedFile{key: fmt.Sprint("k", j), hash: fmt.Sprint("h", j)}
			}
			c.save(files)
		}
		for range rng.IntN(6) {
			written := map[string]cachedFile{}
			for j := range rng.IntN(5) {
				written[randomPath()] = cachedFile{key: fmt.Sprint("k", j), hash: fmt.Sprint("h", j)}
			}
			var deleted []string
			for range rng.IntN(3) {
				deleted = append(deleted, randomPath())
			}
			c.update(written, deleted)
		}
		content, err := os.ReadFile(c.path)
		if err != nil {
			content = nil
		}
		variants := [][]byte{content, append(bytes.Clone(content), "x\x00a\x00\x00\x00"...)}
		for end := range min(len(content), 24) {
			variants = append(variants, content[:len(content)-end])
		}
		for _, v := range variants {
			if err := os.WriteFile(c.path, v, 0o600); err != nil {
				t.Fatal(err)
			}
			if got, want := c.load(), referenceLoad(c.path); !reflect.DeepEqual(got, want) {
				t.Fatalf("cache %q: load = %v, want %v", v, got, want)
			}
		}
	}
	if got := (&hashCache{path: filepath.Join(dir, "none")}).load(); got != nil {
		t.Errorf("a missing cache loads as %v", got)
	}
}
