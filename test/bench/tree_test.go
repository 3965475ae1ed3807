//go:build e2e && bench

package bench

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/transport"
)

// ---------------------------------------------------------------------------------------------------------
// Generated trees

// generateTree writes a source-like tree of files into nested directories (one directory per 20 files,
// each inside a random earlier one). Sizes come from four classes (relative weights 1, 4, 16, 64) drawn
// uniformly, adding up to about total bytes; one file in 50 is an executable shell script. Most files are
// text that reads like code (Go, Python, TypeScript, shell, Markdown, YAML and JSON; see sourceGen); about
// 5 % of the bytes are binary files of random content (images, archives, fonts: a few of the largest
// files and some icons), which do not compress. Over the whole tree, gzip -1 shrinks it about 4× as it
// does real source trees (see sourceGen). The same arguments always give the same tree.
func generateTree(t testing.TB, root string, files int, total int64) {
	t.Helper()
	rng := rand.New(rand.NewChaCha8([32]byte{6}))
	g := newSourceGen(7)
	dirs := []string{root}
	for i := range files / 20 {
		d := filepath.Join(dirs[rng.IntN(len(dirs))], g.dirName(i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	weights := []int64{1, 4, 16, 64}
	var sum int64
	for _, w := range weights {
		sum += w
	}
	unit := total / int64(files) * int64(len(weights)) / sum
	var buf []byte
	for i := range files {
		class := i % len(weights)
		size := rng.Int64N(2*unit*weights[class] + 1)
		kind := pickKind(rng, i, class)
		mode := os.FileMode(0o644)
		if kind == kindShell {
			mode = 0o755
		}
		buf = g.content(buf[:0], kind, int(size))
		if err := os.WriteFile(filepath.Join(dirs[rng.IntN(len(dirs))], g.fileName(i, kind)), buf, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// rewrite gives a generated file new content of the same size and kind (by its extension), as an edit of
// the whole file, and returns its size.
func (g *sourceGen) rewrite(t *testing.T, file string) int64 {
	t.Helper()
	content := g.content(nil, kindOf(file), int(fileLen(t, file)))
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return int64(len(content))
}

// isText says whether a generated file is text (by its extension), not a binary one.
func isText(file string) bool {
	_, binary := binaryMagic[kindOf(file)]
	return !binary
}

// gzippedSize is the size of the tree under root as a tar stream gzip'd at transport.GzipLevel: about what
// kindling --compress on sends for it (its tar has its own order and headers).
func gzippedSize(t testing.TB, root string) int64 {
	t.Helper()
	var n byteCounter
	zw, err := gzip.NewWriterLevel(&n, transport.GzipLevel)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	regularFiles(t, root, func(p string, info os.FileInfo) {
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			t.Fatal(err)
		}
		h.Name, _ = filepath.Rel(root, p)
		content, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(content)
	})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return int64(n)
}

type byteCounter int64

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}

// A fileKind is what a generated file holds, named by its extension.
type fileKind int

const (
	kindGo fileKind = iota
	kindPython
	kindTS
	kindShell
	kindMarkdown
	kindYAML
	kindJSON
	kindPNG
	kindJPEG
	kindGzip
	kindZip
	kindWOFF2
	kindICO
)

// repeatLines is, for each text kind, the percentage of a block's lines that repeat one of the file's
// recentLines statements before: data files (YAML, JSON) repeat themselves more than code.
var repeatLines = []int{62, 62, 62, 62, 0, 80, 80}

// kindIndent is each text kind's unit of indentation.
var kindIndent = []string{"\t", "    ", "  ", "  ", "", "  ", "  "}

var kindExt = []string{"go", "py", "ts", "sh", "md", "yaml", "json", "png", "jpg", "tar.gz", "zip", "woff2", "ico"}

// binaryMagic is the start of each binary kind's files; the rest is random.
var binaryMagic = map[fileKind]string{
	kindPNG: "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", kindJPEG: "\xff\xd8\xff\xe0\x00\x10JFIF\x00", kindGzip: "\x1f\x8b\x08\x00",
	kindZip: "PK\x03\x04\x14\x00", kindWOFF2: "wOF2\x00\x01\x00\x00", kindICO: "\x00\x00\x01\x00\x01\x00",
}

func kindOf(file string) fileKind {
	for k := len(kindExt) - 1; k >= 0; k-- {
		if strings.HasSuffix(file, "."+kindExt[k]) {
			return fileKind(k)
		}
	}
	return kindGo
}

// sourceGen makes the content of generated files. Text is built from a vocabulary of made-up words used
// with a Zipf distribution (a few very often, most rarely), each file also drawing a small set of its own
// names that it uses again and again, as code does; beside them keywords, punctuation, indentation, string
// literals, numbers (some hexadecimal) and comments in words; and statements that repeat one a few
// lines before, as code does (repeatLines). Its parameters are set so that compression is what it is on
// real source, not the 100× of a repeated text: gzip -1 shrinks the 10,000-file / 100 MB tree of
// generateTree 4.17× (the tar stream; its text files 5.1×, the Go ones 5.4×), where it shrinks the tar of
// Go 1.26's src/ 3.62× (its .go files 4.08×) and a Go module cache's sources 4.87× (.go files 4.70×,
// YAML 10×, JSON 7.5×). The text is a little more compressible than real code because the generated tree
// has none of the real trees' generated code and data files.
type sourceGen struct {
	rng     *rand.Rand
	words   []string   // the vocabulary, most used first
	zipf    *rand.Zipf // an index into words
	local   []string   // the current file's own names
	english int        // the percentage of prose words that are English (the rest: the vocabulary's)
	plain   [][2]int   // where the current file's plain statements are in the buffer (without indentation)
}

func newSourceGen(seed uint64) *sourceGen {
	var key [32]byte
	key[0], key[1] = 's', 'g'
	for i := range 8 {
		key[2+i] = byte(seed >> (8 * i))
	}
	rng := rand.New(rand.NewChaCha8(key))
	g := &sourceGen{rng: rng}
	// Words stay the same whatever the seed: it is the project's vocabulary.
	wrng := rand.New(rand.NewChaCha8([32]byte{'w'}))
	syllables := strings.Fields("ka ri to me lan sor vik pe du ni an el os ter bra gul fen ma co ret quin sta ble ix ard po zu hem tal ver")
	seen := map[string]bool{}
	for len(g.words) < vocabulary {
		var w strings.Builder
		for range 1 + wrng.IntN(3) {
			w.WriteString(syllables[wrng.IntN(len(syllables))])
		}
		if s := w.String(); !seen[s] && len(s) > 1 {
			seen[s] = true
			g.words = append(g.words, s)
		}
	}
	g.zipf = rand.NewZipf(rng, zipfS, zipfV, uint64(len(g.words)-1))
	return g
}

// The text's parameters: the vocabulary's size and skew, and how many names of its own a file has.
const (
	vocabulary = 4000
	zipfS      = 1.5
	zipfV      = 4
	localNames = 12
	localUse   = 75 // the percentage of names that are the file's own
	// recentLines is how far back a repeated statement is (see repeatLines).
	recentLines = 40
	minRecent   = 8
)

var englishWords = strings.Fields("the a of to is in it if and or for when not be with this that by on as from we an are no must " +
	"file files sync pod container tree change changes run runs time first new each one all its which can")

func (g *sourceGen) word() string { return g.words[g.zipf.Uint64()] }

// name is an identifier: a file's own name most of the time, else one from the vocabulary.
func (g *sourceGen) name() string {
	if g.rng.IntN(100) < localUse {
		return g.local[g.rng.IntN(len(g.local))]
	}
	return g.word()
}

func (g *sourceGen) newLocals(camel bool) {
	g.local = g.local[:0]
	for range localNames {
		w := g.word()
		for range g.rng.IntN(3) {
			if camel {
				n := g.word()
				w += strings.ToUpper(n[:1]) + n[1:]
			} else {
				w += "_" + g.word()
			}
		}
		g.local = append(g.local, w)
	}
}

func (g *sourceGen) exported() string {
	n := g.name()
	return strings.ToUpper(n[:1]) + n[1:]
}

// number appends a literal: mostly small, sometimes large or hexadecimal.
func (g *sourceGen) number(b []byte) []byte {
	switch r := g.rng.IntN(20); {
	case r < 15:
		return strconv.AppendInt(b, int64(g.rng.IntN(100)), 10)
	case r < 19:
		return strconv.AppendInt(b, int64(g.rng.IntN(1<<20)), 10)
	default:
		return strconv.AppendUint(append(b, "0x"...), g.rng.Uint64()>>uint(g.rng.IntN(8)*8), 16)
	}
}

// prose appends n words of a comment or a message.
func (g *sourceGen) prose(b []byte, n int) []byte {
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		if g.rng.IntN(100) < g.english {
			b = append(b, englishWords[g.rng.IntN(len(englishWords))]...)
		} else {
			b = append(b, g.word()...)
		}
	}
	return b
}

func (g *sourceGen) quoted(b []byte) []byte {
	b = append(b, '"')
	b = g.prose(b, 1+g.rng.IntN(4))
	if g.rng.IntN(3) == 0 {
		b = append(b, ": %v"...)
	}
	return append(b, '"')
}

// args appends up to max arguments: names, numbers, literals.
func (g *sourceGen) args(b []byte, max int) []byte {
	for i := range g.rng.IntN(max + 1) {
		if i > 0 {
			b = append(b, ", "...)
		}
		switch r := g.rng.IntN(10); {
		case r < 6:
			b = append(b, g.name()...)
		case r < 8:
			b = g.number(b)
		default:
			b = g.quoted(b)
		}
	}
	return b
}

func pickKind(rng *rand.Rand, i, class int) fileKind {
	if i%50 == 0 {
		return kindShell
	}
	r := rng.IntN(1000)
	// Binary: some of the largest files (about 6 % of the bytes) and a few small icons.
	if class == 3 && r < 70 || class == 1 && r < 30 {
		if class == 1 {
			return kindICO
		}
		return []fileKind{kindPNG, kindJPEG, kindGzip, kindZip, kindWOFF2}[r%5]
	}
	switch r = rng.IntN(100); {
	case r < 50:
		return kindGo
	case r < 65:
		return kindPython
	case r < 82:
		return kindTS
	case r < 90:
		return kindMarkdown
	case r < 95:
		return kindYAML
	default:
		return kindJSON
	}
}

func (g *sourceGen) dirName(i int) string { return fmt.Sprintf("%s%d", g.word(), i) }

func (g *sourceGen) fileName(i int, k fileKind) string {
	return fmt.Sprintf("%s_%d.%s", g.word(), i, kindExt[k])
}

// content appends size bytes of a file of kind k to b.
func (g *sourceGen) content(b []byte, k fileKind, size int) []byte {
	start := len(b)
	if magic, ok := binaryMagic[k]; ok {
		b = append(b, magic...)
		for len(b)-start < size {
			b = binaryAppendUint64(b, g.rng.Uint64())
		}
		return b[:start+size]
	}
	g.newLocals(k != kindPython && k != kindShell)
	g.plain = g.plain[:0]
	g.english = 50
	if k == kindMarkdown {
		g.english = 75
	}
	ind := 0
	for line := 0; len(b)-start < size; line++ {
		from, before := len(b), ind
		if ind > 0 && len(g.plain) >= minRecent && g.rng.IntN(100) < repeatLines[k] {
			// A statement the file has already: code repeats itself.
			s := g.plain[len(g.plain)-1-g.rng.IntN(min(len(g.plain), recentLines))]
			b = indent(b, ind, kindIndent[k])
			b = append(b, b[s[0]:s[1]]...)
		} else if b = g.line(b, k, line, &ind); ind == before && ind > 0 && bytes.IndexByte(b[from:], '\n') < 0 {
			text := from + len(kindIndent[k])*ind
			if k == kindJSON {
				text += len(kindIndent[k])
			}
			if text < len(b) {
				g.plain = append(g.plain, [2]int{text, len(b)})
			}
		}
		b = append(b, '\n')
	}
	b = b[:start+size]
	if size > 0 {
		b[len(b)-1] = '\n'
	}
	return b
}

func binaryAppendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

func indent(b []byte, n int, unit string) []byte {
	for range n {
		b = append(b, unit...)
	}
	return b
}

// line appends one line of kind k (without its newline); ind is the current nesting.
func (g *sourceGen) line(b []byte, k fileKind, n int, ind *int) []byte {
	r := g.rng.IntN(100)
	switch k {
	case kindGo:
		return g.goLine(b, n, r, ind)
	case kindPython:
		return g.pyLine(b, n, r, ind)
	case kindTS:
		return g.tsLine(b, n, r, ind)
	case kindShell:
		return g.shLine(b, n, r, ind)
	case kindMarkdown:
		switch {
		case n == 0 || r < 8:
			return g.prose(append(b, "## "...), 2+g.rng.IntN(4))
		case r < 20:
			return b
		case r < 30:
			return g.prose(append(b, "- "...), 4+g.rng.IntN(10))
		default:
			return g.prose(b, 8+g.rng.IntN(10))
		}
	case kindYAML:
		b = indent(b, *ind, "  ")
		switch {
		case r < 25 && *ind < 4:
			*ind++
			return append(append(b, g.name()...), ':')
		case r < 40 && *ind > 0:
			*ind--
			fallthrough
		case r < 70:
			return g.number(append(append(b, g.name()...), ": "...))
		default:
			return g.quoted(append(append(b, g.name()...), ": "...))
		}
	default: // JSON
		b = indent(b, *ind+1, "  ")
		switch {
		case r < 20 && *ind < 4:
			*ind++
			return append(g.quoted(b), ": {"...)
		case r < 35 && *ind > 0:
			*ind--
			return append(b[:len(b)-2], "},"...)
		case r < 65:
			return append(g.number(append(g.quoted(b), ": "...)), ',')
		default:
			return append(g.quoted(append(g.quoted(b), ": "...)), ',')
		}
	}
}

func (g *sourceGen) goLine(b []byte, n, r int, ind *int) []byte {
	if n == 0 {
		return append(append(b, "package "...), g.word()...)
	}
	if *ind == 0 {
		switch {
		case r < 20:
			return b
		case r < 40:
			return g.prose(append(b, "// "...), 5+g.rng.IntN(10))
		case r < 50:
			*ind = 1
			return append(append(append(b, "type "...), g.exported()...), " struct {"...)
		case r < 55:
			return g.number(append(append(append(b, "const "...), g.exported()...), " = "...))
		default:
			*ind = 1
			b = append(b, "func "...)
			if r < 80 {
				b = append(append(append(append(b, "(r *"...), g.exported()...), ") "...), g.exported()...)
			} else {
				b = append(b, g.name()...)
			}
			b = append(append(append(append(b, "(ctx context.Context, "...), g.name()...), " "...), g.exported()...)
			return append(b, ") (*Result, error) {"...)
		}
	}
	b = indent(b, *ind, "\t")
	switch {
	case r < 12:
		*ind--
		return append(b[:len(b)-1], '}')
	case r < 18 && *ind < 5:
		*ind++
		return append(append(append(b, "if err := "...), g.name()...), "(); err != nil {"...)
	case r < 23 && *ind < 5:
		*ind++
		b = append(append(append(append(b, "for _, "...), g.name()...), " := range "...), g.name()...)
		return append(b, " {"...)
	case r < 35:
		// A call and its error check.
		b = append(append(append(append(b, g.name()...), ", err := "...), g.name()...), '.')
		b = append(g.args(append(append(b, g.exported()...), '('), 2), ")\n"...)
		b = append(indent(b, *ind, "\t"), "if err != nil {\n"...)
		b = append(indent(b, *ind+1, "\t"), "return nil, err\n"...)
		return append(indent(b, *ind, "\t"), '}')
	case r < 40:
		return append(g.prose(append(b, `return nil, fmt.Errorf("`...), 2+g.rng.IntN(3)), `: %w", err)`...)
	case r < 48:
		return g.prose(append(b, "// "...), 4+g.rng.IntN(10))
	case r < 60:
		b = append(append(append(append(b, g.name()...), ", err := "...), g.name()...), '.')
		return append(g.args(append(append(b, g.exported()...), '('), 3), ')')
	case r < 72:
		b = append(append(append(append(b, g.name()...), '.'), g.exported()...), " = "...)
		return append(g.args(append(append(b, g.name()...), '('), 2), ')')
	case r < 80:
		return append(append(append(append(append(append(b, g.exported()...), ' '), g.exported()...), " `json:\""...), g.name()...), "\"`"...)
	case r < 88:
		return append(append(append(b, "defer "...), g.name()...), ".Close()"...)
	default:
		b = append(append(append(b, g.name()...), " := "...), g.name()...)
		return g.number(append(b, " + "...))
	}
}

func (g *sourceGen) pyLine(b []byte, n, r int, ind *int) []byte {
	if n == 0 {
		return append(append(b, "import "...), g.word()...)
	}
	if *ind == 0 {
		switch {
		case r < 25:
			return b
		case r < 40:
			return g.prose(append(b, "# "...), 5+g.rng.IntN(10))
		case r < 55:
			*ind = 1
			return append(append(append(b, "class "...), g.exported()...), ':')
		default:
			*ind = 1
			return append(g.params(append(append(append(b, "def "...), g.name()...), "(self"...), ", ", ""), "):"...)
		}
	}
	b = indent(b, *ind, "    ")
	switch {
	case r < 12:
		*ind--
		return b[:len(b)-4*(*ind+1)]
	case r < 20 && *ind < 5:
		*ind++
		return append(append(append(b, "if "...), g.name()...), " is None:"...)
	case r < 26 && *ind < 5:
		*ind++
		return append(append(append(append(append(b, "for "...), g.name()...), " in self."...), g.name()...), ':')
	case r < 34:
		return append(append(append(b, "return self."...), g.name()...), "()"...)
	case r < 44:
		return g.prose(append(b, "# "...), 4+g.rng.IntN(10))
	case r < 50:
		return append(g.quoted(append(b, "raise ValueError("...)), ')')
	default:
		b = append(append(append(append(b, g.name()...), " = self."...), g.name()...), '(')
		return append(g.args(b, 3), ')')
	}
}

func (g *sourceGen) tsLine(b []byte, n, r int, ind *int) []byte {
	if n == 0 {
		return append(append(append(b, "import { "...), g.exported()...), ` } from "./index";`...)
	}
	if *ind == 0 {
		switch {
		case r < 20:
			return b
		case r < 40:
			return g.prose(append(b, "// "...), 5+g.rng.IntN(10))
		case r < 55:
			*ind = 1
			return append(append(append(b, "export interface "...), g.exported()...), " {"...)
		default:
			*ind = 1
			b = append(append(append(b, "export async function "...), g.name()...), '(')
			return append(g.args(b, 3), ") {"...)
		}
	}
	b = indent(b, *ind, "  ")
	switch {
	case r < 12:
		*ind--
		return append(b[:len(b)-2], '}')
	case r < 20 && *ind < 5:
		*ind++
		return append(append(append(b, "if (!"...), g.name()...), ") {"...)
	case r < 26 && *ind < 5:
		*ind++
		return append(append(append(append(append(b, "for (const "...), g.name()...), " of "...), g.name()...), ") {"...)
	case r < 34:
		return append(append(append(b, "return this."...), g.name()...), ';')
	case r < 44:
		return g.prose(append(b, "// "...), 4+g.rng.IntN(10))
	case r < 52:
		return append(append(g.args(append(append(b, g.name()...), "?: "...), 0), g.exported()...), ';')
	default:
		b = append(append(append(append(append(b, "const "...), g.name()...), " = await "...), g.name()...), '.')
		return append(g.args(append(append(b, g.name()...), '('), 3), ");"...)
	}
}

func (g *sourceGen) shLine(b []byte, n, r int, ind *int) []byte {
	if n == 0 {
		return append(b, "#!/bin/sh\nset -eu"...)
	}
	b = indent(b, *ind, "  ")
	switch {
	case r < 10 && *ind > 0:
		*ind--
		return append(b[:len(b)-2], "fi"...)
	case r < 20 && *ind < 3:
		*ind++
		return append(append(append(b, `if [ -z "${`...), g.name()...), `:-}" ]; then`...)
	case r < 35:
		return g.prose(append(b, "# "...), 4+g.rng.IntN(10))
	case r < 55:
		return g.quoted(append(b, "echo "...))
	default:
		b = append(append(append(append(b, g.name()...), `=$(`...), g.name()...), " --"...)
		return append(g.args(append(append(b, g.word()...), ' '), 2), ')')
	}
}

// params appends up to three parameters, each after sep and followed by a type when there is one.
func (g *sourceGen) params(b []byte, sep, typ string) []byte {
	for range g.rng.IntN(4) {
		b = append(append(b, sep...), g.name()...)
		if typ != "" {
			b = append(append(b, typ...), g.exported()...)
		}
	}
	return b
}
