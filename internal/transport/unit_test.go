package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/plan"
)

func TestSha256sumLine(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name, output, file string
		wantErr            bool
	}{
		{"plain", hash + "  ./a b\n", "./a b", false},
		{"binary mode", hash + " *./a\n", "./a", false},
		{"busybox newline", hash + "  ./new\nline\n", "./new\nline", false},
		{"gnu escaped newline", `\` + hash + `  ./new\nline` + "\n", "./new\nline", false},
		{"gnu escaped backslash", `\` + hash + `  ./back\\slash` + "\n", `./back\slash`, false},
		{"other name", hash + "  ./b\n", "./a", true},
		{"truncated", hash[:10], "./a", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &nulReader{r: bufio.NewReader(strings.NewReader(tt.output))}
			got, err := r.sha256sumLine(tt.file)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && got != hash {
				t.Errorf("hash = %q", got)
			}
		})
	}
}

func TestReadManifestOutput(t *testing.T) {
	hash := strings.Repeat("0f", 32)
	tests := []struct {
		name             string
		hashed, statted  bool
		listing, batches string
		want             plan.Tree
		wantErr          string
	}{
		{name: "absent dest", listing: "", want: plan.Tree{}},
		{
			name:   "every kind",
			hashed: true,
			listing: "kindling-manifest\x00" +
				".\x00./d\x00\x00" + // directories
				"./d/l\x00\x00" + // symlinks
				"./d/f\x00./x\x00\x00", // files
			batches: "B\x003\x00l\x00target\x00S\x002\x00" + "5 755\n- -\n" + "p\x00" + hash + "\n\n",
			want: plan.Tree{
				"d":   {Kind: plan.Dir},
				"d/l": {Kind: plan.Symlink, Hash: "target"},
				"d/f": {Kind: plan.File, Exec: true, Size: 5, Hash: hash},
				"x":   {Kind: plan.File, Size: -1},
			},
		},
		{
			name:    "without sha256sum, in two batches",
			listing: "kindling-manifest\x00.\x00\x00\x00./a\x00./b\x00\x00",
			batches: "B\x001\x00S\x001\x000 644\n" + "B\x001\x00S\x001\x003 700\n",
			want: plan.Tree{
				"a": {Kind: plan.File, Size: 0},
				"b": {Kind: plan.File, Size: 3, Exec: true},
			},
		},
		{
			name:    "one pass of find -printf",
			statted: true,
			listing: "kindling-manifest\x00" +
				"d\x00.\x00\x00\x00" + "d\x00./d\x004096 755 2 1.0 1.0\x00\x00" +
				"l\x00./d/l\x007 777 3 1.0 1.0\x00target\x00" +
				"f\x00./d/f\x005 755 4 1767366245.1234567890 1767366245.1234567890\x00\x00" +
				"s\x00./sock\x000 755 5 1.0 1.0\x00\x00",
			want: plan.Tree{
				"d":   {Kind: plan.Dir},
				"d/l": {Kind: plan.Symlink, Hash: "target"},
				"d/f": {Kind: plan.File, Exec: true, Size: 5},
			},
		},
		{name: "statted listing cut short", statted: true, listing: "kindling-manifest\x00f\x00./a\x00", wantErr: "unexpected EOF"},
		{name: "listing cut short", listing: "kindling-manifest\x00.\x00\x00", wantErr: "unexpected EOF"},
		{name: "batches cut short", listing: "kindling-manifest\x00.\x00\x00\x00./a\x00\x00", batches: "B\x001\x00", wantErr: "unexpected EOF"},
		{name: "garbage", listing: "sh: 1: syntax error\x00", wantErr: "unexpected output"},
		{
			name:    "miscounted batch",
			listing: "kindling-manifest\x00\x00\x00./a\x00\x00",
			batches: "B\x001\x00S\x002\x00",
			wantErr: "batch of 1 paths reported 0 symlinks and 2 files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, wanted, err := NewShell(&RecordingExecer{}).readListing(strings.NewReader(tt.listing), tt.statted, map[string]string{}, nil)
			if err == nil && len(wanted) > 0 {
				r := &nulReader{r: bufio.NewReader(strings.NewReader(tt.batches))}
				err = readBatches(r, wanted, tt.hashed, got, map[string]string{})
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := plan.FirstDifference(tt.want, got); d != "" {
				t.Errorf("tree: %s", d)
			}
		})
	}
}

func TestIncluded(t *testing.T) {
	all := []listed{
		{path: "node_modules", entry: plan.Entry{Kind: plan.Dir}}, {path: "node_modules/x", entry: plan.Entry{Kind: plan.Dir}}, {path: "node_modules/x/i.js", entry: plan.Entry{Kind: plan.File}},
		{path: "a", entry: plan.Entry{Kind: plan.Dir}}, {path: "a/node_modules", entry: plan.Entry{Kind: plan.File}}, {path: "a/b.log", entry: plan.Entry{Kind: plan.File}}, {path: "a/c.js", entry: plan.Entry{Kind: plan.File}},
	}
	sh := NewShell(&RecordingExecer{}, Excluding(func(rel string, isDir bool) bool {
		return strings.HasSuffix(rel, ".log") || isDir && strings.HasSuffix(rel, "node_modules")
	}))
	var got []string
	for _, l := range sh.included(all) {
		got = append(got, l.path)
	}
	if want := []string{"a", "a/c.js", "a/node_modules"}; !reflect.DeepEqual(got, want) {
		t.Errorf("included = %q, want %q", got, want)
	}
}

func TestLayout(t *testing.T) {
	f := plan.Entry{Kind: plan.File, Size: 1}
	p := plan.Plan{
		Mkdirs:   []string{"new", "new/sub", "old/new2"},
		Writes:   []plan.Item{{Path: "top", Entry: f}, {Path: "old/x", Entry: f}, {Path: "new/sub/y", Entry: f}, {Path: "old/new2/z", Entry: f}},
		Symlinks: []plan.Item{{Path: "old/l", Entry: plan.Entry{Kind: plan.Symlink, Hash: "x"}}},
	}
	var got []string
	for _, e := range layout(p, nil) {
		s := e.Kind.String() + " " + e.name
		if e.Kind == plan.Symlink {
			s += " -> " + e.Hash
		}
		if e.content != "" {
			s += fmt.Sprintf(" %q", e.content)
		}
		if e.path != "" {
			s += " = " + e.path
		}
		got = append(got, s)
	}
	want := []string{
		"dir 0", `file 0.at ".\n"`, // dest itself receives "new" (whole) and "top"
		"dir 1", `file 1.at "./old\n"`, // old receives "new2" (whole), "l" and "x"
		"dir 0/new = new", "dir 0/new/sub = new/sub", "dir 1/new2 = old/new2",
		"symlink 1/l -> x = old/l",
		"file 0/top = top", "file 1/x = old/x", "file 0/new/sub/y = new/sub/y", "file 1/new2/z = old/new2/z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestChunkArgs(t *testing.T) {
	args := []string{"aaa", "bb", "c", "dddd"}
	tests := []struct {
		maxBytes, maxCount int
		want               [][]string
	}{
		{100, 100, [][]string{args}},
		{7, 100, [][]string{{"aaa", "bb"}, {"c", "dddd"}}},
		{6, 100, [][]string{{"aaa"}, {"bb", "c"}, {"dddd"}}},
		{100, 3, [][]string{{"aaa", "bb", "c"}, {"dddd"}}},
		{1, 100, [][]string{{"aaa"}, {"bb"}, {"c"}, {"dddd"}}}, // an argument too long still goes alone
	}
	for _, tt := range tests {
		if got := chunkArgs(args, tt.maxBytes, tt.maxCount); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("chunkArgs(%d, %d) = %q, want %q", tt.maxBytes, tt.maxCount, got, tt.want)
		}
	}
}

type codedError int

func (c codedError) Error() string { return fmt.Sprintf("code %d", int(c)) }
func (c codedError) ExitCode() int { return int(c) }

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{exec.Command("sh", "-c", "exit 90").Run(), 90},
		{fmt.Errorf("wrapped: %w", codedError(91)), 91},
		{errors.New("exit status 92"), 92}, // the form of kube.ExitError
		{errors.New("connection refused"), -1},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	file := plan.Entry{Kind: plan.File}
	tests := []struct {
		dest string
		p    plan.Plan
		ok   bool
	}{
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "a/b c", Entry: file}}, Deletes: []string{"-rf"}}, true},
		{"", plan.Plan{}, false},
		{"/app", plan.Plan{Deletes: []string{"../etc"}}, false},
		{"/app", plan.Plan{Mkdirs: []string{"/abs"}}, false},
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "a//b", Entry: file}}}, false},
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "a/./b", Entry: file}}}, false},
		{"/app", plan.Plan{Symlinks: []plan.Item{{Path: "l", Entry: plan.Entry{Kind: plan.Symlink}}}}, false},
		// Names that would take a tar entry or a rename out of the staging directory or dest.
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "a/../../x", Entry: file}}}, false},
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "/etc/passwd", Entry: file}}}, false},
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "..", Entry: file}}}, false},
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "a/", Entry: file}}}, false},
		{"/app", plan.Plan{Deletes: []string{"."}}, false},
		{"/app", plan.Plan{Writes: []plan.Item{{Path: "a\x00b", Entry: file}}}, false},
		{"/app", plan.Plan{
			Symlinks: []plan.Item{{Path: "l", Entry: plan.Entry{Kind: plan.Symlink, Hash: "/etc"}}},
			Writes:   []plan.Item{{Path: "l/passwd", Entry: file}},
		}, false},
		{"/app", plan.Plan{
			Symlinks: []plan.Item{{Path: "a/l", Entry: plan.Entry{Kind: plan.Symlink, Hash: ".."}}},
			Mkdirs:   []string{"a/l/b"},
		}, false},
		{"/app", plan.Plan{
			Symlinks: []plan.Item{{Path: "l", Entry: plan.Entry{Kind: plan.Symlink, Hash: "/etc"}}},
			Writes:   []plan.Item{{Path: "l2/passwd", Entry: file}, {Path: "lx", Entry: file}},
		}, true},
	}
	for _, tt := range tests {
		if err := validate(tt.dest, tt.p); (err == nil) != tt.ok {
			t.Errorf("validate(%q, %+v) = %v, want ok: %v", tt.dest, tt.p, err, tt.ok)
		}
	}
}

func TestRecordingExecer(t *testing.T) {
	r := &RecordingExecer{Name: "pod/p/c", Tools: []string{"find", "xargs", "stat"}}
	sh := NewShell(r)
	ctx := context.Background()
	if _, err := sh.Manifest(ctx, "/app"); err != nil {
		t.Fatal(err)
	}
	_, err := sh.Apply(ctx, "/app", plan.Plan{Mkdirs: []string{"d"}}, DirSource(t.TempDir()))
	if err == nil || !strings.Contains(err.Error(), "pod/p/c has neither tar nor dd (missing: tar, dd, mkdir, mv, rm, ln, chmod): kindling cannot write files there") {
		t.Errorf("apply without tar or dd: %v", err)
	}

	r = &RecordingExecer{Name: "pod/p/c", Respond: func(c Call) (string, error) {
		if c.Op == OpApply {
			return "", errors.New("exit status 92")
		}
		return "", nil
	}}
	sh = NewShell(r)
	src := t.TempDir()
	build(t, src, map[string]node{"a": file("hello")})
	stats, err := sh.Apply(ctx, "/app", plan.Diff(scan(t, src), nil), DirSource(src))
	if err == nil || err.Error() != "writing files to /app in pod/p/c failed: exit status 92" {
		t.Errorf("err = %v", err)
	}
	calls := r.Calls()
	if len(calls) != 2 || calls[1].Op != OpApply || calls[1].Stdin != stats.Bytes || stats.Bytes < 5 {
		t.Errorf("calls = %+v, stats = %+v", calls, stats)
	}
}

func TestQuietStdinEndsWithEOFOnceOver(t *testing.T) {
	tests := []struct {
		name    string
		over    bool
		wantErr error
	}{
		{"command running: the pipe's error passes", false, io.ErrClosedPipe},
		{"command over: the copier sees the end", true, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, _ := io.Pipe()
			q := &quietStdin{r: pr}
			if tt.over {
				q.end()
			}
			pr.Close()
			if _, err := q.Read(make([]byte, 1)); err != tt.wantErr {
				t.Fatalf("Read error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
