package transport

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/kindling-dev/kindling/internal/plan"
)

// ErrSourceChanged is wrapped by Apply's error when a local file no longer matches the plan (changed size
// or vanished) while it was being sent. Nothing of that Apply is committed; plan again and retry.
var ErrSourceChanged = errors.New("local file changed while it was being sent")

// Limits of one command line, kept far below what an exec request's URL can carry.
const (
	maxArgBytes  = 64 << 10
	maxFillFiles = 200
)

// Apply carries out p under dest. Everything new is first written into a staging directory inside
// dest, then deletes run and the new entries are renamed into place (commitStage), so no
// file is ever visible half-written; the staging directory is removed however the command ends. With tar
// this is one command whose stdin is a tar stream built while it is sent; without tar, the staging
// directory is filled by a few commands of at most 200 files each, then committed by one more.
//
// An empty plan still runs: it creates dest and proves that it is writable.
func (s *Shell) Apply(ctx context.Context, dest string, p plan.Plan, src Source) (Stats, error) {
	if err := validate(dest, p); err != nil {
		return Stats{}, err
	}
	tools, err := s.probe(ctx)
	if err != nil {
		return Stats{}, err
	}
	if !canTar(tools) {
		if err := noFill(s.exec.Target(), tools); err != nil {
			return Stats{}, err
		}
	}
	if s.meter != nil {
		s.meter.Start(int64(len(p.Writes)), p.Bytes())
		defer s.meter.Done()
	}
	// What is about to change makes the kept listing of dest stale, however this call ends.
	cache := s.cache(dest)
	if cache != nil {
		cache.dropListing()
	}
	deletes := make([]string, len(p.Deletes))
	for i, d := range p.Deletes {
		deletes[i] = "./" + d
	}
	var overflow [][]string
	if len(deletes) > 0 {
		chunks := chunkArgs(deletes, maxArgBytes, len(deletes))
		overflow, deletes = chunks[:len(chunks)-1], chunks[len(chunks)-1]
	}
	for _, chunk := range overflow {
		if err := s.run(ctx, dest, append([]string{"sh", "-c", deleteScript, "kindling", dest}, chunk...)); err != nil {
			return Stats{}, err
		}
	}
	splices, err := s.splices(p, src, tools)
	if err != nil {
		return Stats{}, err
	}
	sent, err := s.applyStaged(ctx, dest, p, layout(p, splices), deletes, src, cache, tools)
	if errors.Is(err, errNotKept) {
		// The container's file was not the version kept here: send the files whole.
		if s.meter != nil {
			s.meter.Start(int64(len(p.Writes)), p.Bytes())
		}
		var whole int64
		splices = nil
		whole, err = s.applyStaged(ctx, dest, p, layout(p, nil), deletes, src, cache, tools)
		sent += whole
	}
	if err != nil {
		return Stats{Bytes: sent}, err
	}
	s.keepCopies(p, splices, src)
	return Stats{Written: len(p.Writes) + len(p.Symlinks), Deleted: len(p.Deletes), Bytes: sent}, nil
}

// applyStaged writes the staged entries and commits them, in the way the container's tools allow.
func (s *Shell) applyStaged(ctx context.Context, dest string, p plan.Plan, staged []stagedEntry, deletes []string, src Source, cache *hashCache, tools map[string]bool) (int64, error) {
	stage, err := stageName()
	if err != nil {
		return 0, err
	}
	record := cache != nil && len(p.Writes) >= cachedApply && tools["sha256sum"]
	switch {
	case !canTar(tools):
		return s.applyFill(ctx, dest, stage, staged, deletes, src, s.meter)
	case record && tools[findPrintf]:
		// One listing, kept for the next Manifest, records the files in place.
		sent, err := s.applyTar(ctx, dest, stage, staged, deletes, src, nil, nil, s.meter)
		if err == nil {
			s.recordListing(ctx, dest, cache, p.Writes)
		}
		return sent, err
	case record:
		return s.applyTar(ctx, dest, stage, staged, deletes, src, cache, p.Writes, s.meter)
	default:
		return s.applyTar(ctx, dest, stage, staged, deletes, src, nil, nil, s.meter)
	}
}

// A splice is a write sent as only the part of the file that changed (plan.Splice): the container
// rebuilds the file from the head and tail of its current version around it (spliceStage).
type splice struct {
	index      int // its number in the stream ("s.index")
	head, tail int64
	middle     []byte
	// content is the whole new version, kept as the next splice's basis once the container has it.
	content []byte
}

// errNotKept says that the container's file was not the version whose copy a splice was made from.
var errNotKept = errors.New("the container's file is not the version kindling kept")

// splices picks the plan's writes to send as splices: a file of spliceFrom to spliceUpTo bytes whose
// version in the container kindling kept a copy of (keptCopies), changed in less than half of it. The
// local file is read whole here. The container needs head, tail and sha256sum to rebuild and check it.
func (s *Shell) splices(p plan.Plan, src Source, tools map[string]bool) (map[string]*splice, error) {
	if s.kept == "" || len(p.Replaces) == 0 || !canTar(tools) || !all(tools, "head", "tail", "cat", "sha256sum") {
		return nil, nil
	}
	var out map[string]*splice
	for _, w := range p.Writes {
		was := p.Replaces[w.Path]
		if w.Size < spliceFrom || w.Size > spliceUpTo || was == "" {
			continue
		}
		old := s.kept.read(was)
		if old == nil {
			continue
		}
		content, err := readPlanned(src, w)
		if err != nil {
			return nil, err
		}
		head, tail := plan.Splice(old, content)
		middle := content[head : len(content)-tail]
		if len(middle) > len(content)/2 {
			continue
		}
		if out == nil {
			out = map[string]*splice{}
		}
		out[w.Path] = &splice{index: len(out), head: int64(head), tail: int64(tail), middle: middle, content: content}
	}
	return out, nil
}

// readPlanned reads a local file whole, failing with ErrSourceChanged when it no longer has the planned
// size. (Its hash is checked in the container, on what the splice rebuilds.)
func readPlanned(src Source, w plan.Item) ([]byte, error) {
	var content []byte
	err := withFile(src, stagedEntry{path: w.Path, Entry: w.Entry}, func(f io.Reader, _ time.Time) error {
		var err error
		content, err = io.ReadAll(io.LimitReader(f, w.Size+1))
		if err == nil && int64(len(content)) != w.Size {
			err = fmt.Errorf("%s: %w", w.Path, ErrSourceChanged)
		}
		return err
	})
	return content, err
}

// keepCopies keeps a copy of each file from spliceFrom to spliceUpTo bytes that the container now holds:
// the new version of a splice (the container checked its sha256), or a copy of the local file.
func (s *Shell) keepCopies(p plan.Plan, splices map[string]*splice, src Source) {
	if s.kept == "" {
		return
	}
	for _, w := range p.Writes {
		switch {
		case splices[w.Path] != nil:
			s.kept.keep(w.Hash, splices[w.Path].content)
		case w.Size >= spliceFrom && w.Size <= spliceUpTo && !s.kept.has(w.Hash):
			s.kept.keepFile(src, w.Path)
		}
	}
}

// noFill says why a container without tar cannot be written to with sh and dd either (fillScript); nil
// when it can. It is known from the probe, before anything is written.
func noFill(target string, t map[string]bool) error {
	switch {
	case canFill(t):
		return nil
	case !all(t, "dd", "mkdir", "mv", "rm", "ln", "chmod"):
		return fmt.Errorf("%s has neither tar nor dd (missing: %s): kindling cannot write files there; add tar to the image",
			target, missing(t, "tar", "dd", "mkdir", "mv", "rm", "ln", "chmod"))
	case !t[ddFullblock]:
		// Without whole blocks a file's bytes may end up in the next file. No exact way is left: head
		// reads ahead on a pipe, and sh's read drops NUL bytes.
		return fmt.Errorf("%s has no tar and its dd cannot read exact blocks (iflag=fullblock): add tar (or GNU coreutils / a newer BusyBox) to the image", target)
	default:
		return fmt.Errorf("%s has no tar, and neither stat nor wc to check the size of the files dd writes: add tar to the image", target)
	}
}

// cachedApply is the number of files from which an Apply records what it wrote in the hash cache, so
// that the next kindling need not hash them in the container: an initial sync, not a save.
const cachedApply = 100

// recordListing lists dest after an Apply wrote the files written, and teaches the hash cache their stat
// keys (the listing is kept too): the next Manifest then hashes none of them in the container. It is
// only a cache: a failure leaves it as it was.
func (s *Shell) recordListing(ctx context.Context, dest string, cache *hashCache, written []plan.Item) {
	tree, _, keys, err := s.list(ctx, dest, true, cache)
	if err != nil {
		return
	}
	cache.update(writtenFiles(tree, keys, written), nil)
}

// applyTar runs tarApplyScript. With record (files of the plan), the container describes those files
// once in place, and cache learns their hashes.
func (s *Shell) applyTar(ctx context.Context, dest, stage string, staged []stagedEntry, deletes []string, src Source, cache *hashCache, record []plan.Item, m Meter) (int64, error) {
	batch := ""
	var described bytes.Buffer
	var stdout io.Writer // a nil *bytes.Buffer would not be a nil io.Writer
	if record != nil {
		batch, stdout = manifestBatchScript, &described
	}
	size := streamSize(staged, tarEntrySize)
	script, write := tarApplyScript, func(w io.Writer) error { return writeTar(w, stage, staged, src, record, m) }
	if c := s.codec(ctx, size); c != nil {
		script, write = c.script, c.compressed(write)
	}
	argv := append(append([]string{"sh", "-c", script, "kindling", dest, stage, batch}, spliceArgs(staged)...), deletes...)
	sent, err := s.stream(ctx, dest, argv, stdout, size, write)
	if err == nil && record != nil {
		cache.update(describedFiles(&described, record), nil)
	}
	return sent, err
}

// spliceArgs are spliceStage's arguments for the splices among staged.
func spliceArgs(staged []stagedEntry) []string {
	var args []string
	for _, e := range staged {
		if e.splice != nil {
			args = append(args, e.name, "./"+e.path, strconv.FormatInt(e.splice.head, 10), strconv.FormatInt(e.splice.tail, 10), e.Hash)
		}
	}
	return append([]string{strconv.Itoa(len(args) / 5)}, args...)
}

// compressFrom is the size of a tar stream from which a compressing Shell compresses it: below it, a
// stream is a save's few files, where a round trip, not the bytes, is what costs. Undoing it costs the
// container a process (5–10 ms on a busy node), what 12–25 KB take at 20 Mbit/s; a stream of 128 KiB (a
// few files of source, or the headers of 50 files spread over 50 directories: a 50-file change's tar
// stream is a quarter headers) shrinks by more than that.
const compressFrom = 128 << 10

// A codec compresses Apply's tar stream for a container whose command (tool) undoes it in script.
type codec struct {
	tool   string // in probeTools
	script string // tarApplyScript for a stream in this codec
	writer func(io.Writer) (io.WriteCloser, error)
}

// codecs are the ones a container may have, best first. Measured on 3 MiB of Go, JavaScript and Python
// source on a shared 2-core machine (ratio, MB/s compressing): gzip BestSpeed 3.2–3.4×, 80–95 MB/s;
// zstd SpeedFastest 3.6–3.9×, 120–190 MB/s; zstd SpeedDefault 4.0–4.4×, 100–180 MB/s (as small as gzip's
// default level, 25–35 MB/s). So zstd goes at SpeedDefault, where the container has zstd, else gzip at
// GzipLevel. The zstd encoder runs on the writer's goroutine (concurrency 1): nothing of it writes after
// it returns, and a stream cut short is never closed into a whole frame.
var codecs = []codec{
	{tool: "zstd", script: zstdApplyScript, writer: func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	}},
	{tool: "gzip", script: gzipApplyScript, writer: func(w io.Writer) (io.WriteCloser, error) {
		return gzip.NewWriterLevel(w, GzipLevel)
	}},
}

// GzipLevel is the gzip level of a compressed transfer. The initial sync of the benchmark's 100 MB
// source-like tree (levels 1 / 2 / 4 / 6): 26.5 / 23.7 / 21.8 / 20.5 MB sent; 12.4 / 11.2 / 10.5 / 9.8 s
// at 20 Mbit/s; 2.8 / 2.8 / 3.2 / 4.8 s at 1 Gbit/s, where the compressor on 2 cores is the limit. Level 2
// is as fast as 1 on a fast link and 10 % faster on a slow one.
const GzipLevel = 2

// codec is how a tar stream of size bytes is sent compressed: the Shell was asked to compress (Compress)
// and the container has a codec's tool to undo it; nil to send it as it is.
func (s *Shell) codec(ctx context.Context, size int64) *codec {
	if !s.compress || size < compressFrom {
		return nil
	}
	tools, err := s.probe(ctx)
	if err != nil {
		return nil
	}
	for i := range codecs {
		if tools[codecs[i].tool] {
			return &codecs[i]
		}
	}
	return nil
}

// compressed is write with its output compressed. A write that fails leaves the stream unfinished, so
// that the container's decompressor fails too.
func (c *codec) compressed(write func(io.Writer) error) func(io.Writer) error {
	return func(w io.Writer) error {
		zw, err := c.writer(w)
		if err != nil {
			return err
		}
		if err := write(zw); err != nil {
			return err
		}
		return zw.Close()
	}
}

// describedFiles pairs what the container said about the files it just wrote with their hashes. A file
// it could not describe, or whose size is not the one sent, is left out.
func describedFiles(out io.Reader, written []plan.Item) map[string]cachedFile {
	paths := make([]string, len(written))
	for i, w := range written {
		paths[i] = w.Path
	}
	tree, keys := plan.Tree{}, map[string]string{}
	if err := readBatches(&nulReader{r: bufio.NewReader(out)}, paths, false, tree, keys); err != nil {
		return nil
	}
	return writtenFiles(tree, keys, written)
}

// writtenFiles pairs the stat keys the container gave of the files written with their hashes. A file
// without a key, or whose size is not the one sent, is left out.
func writtenFiles(tree plan.Tree, keys map[string]string, written []plan.Item) map[string]cachedFile {
	files := map[string]cachedFile{}
	for _, w := range written {
		if keys[w.Path] != "" && tree[w.Path].Size == w.Size {
			files[w.Path] = cachedFile{key: keys[w.Path], hash: w.Hash}
		}
	}
	return files
}

// writeTar writes the staging directory's content as a tar stream. Owners are root and the container
// extracts without restoring them, so that a non-root container user owns what it writes. Files keep
// their local modification time.
func writeTar(w io.Writer, stage string, staged []stagedEntry, src Source, record []plan.Item, m Meter) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 32<<10)
	now := time.Now().Truncate(time.Second)
	prefix := ""
	if stage != "" {
		// The stream creates the staging directory itself: one process less in the container.
		prefix = stage + "/"
		if err := tw.WriteHeader(&tar.Header{Name: prefix, Typeflag: tar.TypeDir, Mode: 0o700, ModTime: now, Format: tar.FormatGNU}); err != nil {
			return err
		}
	}
	for _, e := range staged {
		h := &tar.Header{Name: prefix + e.name, ModTime: now, Mode: int64(e.Mode()), Format: tar.FormatGNU}
		switch e.Kind {
		case plan.Dir:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case plan.Symlink:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.Hash
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		case plan.File:
			if e.splice != nil {
				if err := writeSplice(tw, h, prefix, e, m); err != nil {
					return err
				}
				continue
			}
			if e.path == "" {
				h.Typeflag, h.Size = tar.TypeReg, e.Size
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				if _, err := io.WriteString(tw, e.content); err != nil {
					return err
				}
				continue
			}
			err := withFile(src, e, func(f io.Reader, modTime time.Time) error {
				h.Typeflag, h.Size, h.ModTime = tar.TypeReg, e.Size, modTime.Truncate(time.Second)
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				return copyExactly(tw, f, e, buf, m)
			})
			if err != nil {
				return err
			}
		}
	}
	if record != nil {
		var list bytes.Buffer
		for _, it := range record {
			list.WriteString("./" + it.Path + "\x00")
		}
		h := &tar.Header{Name: prefix + streamWritten, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: now, Size: int64(list.Len()), Format: tar.FormatGNU}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(list.Bytes()); err != nil {
			return err
		}
	}
	h := &tar.Header{Name: prefix + streamComplete, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: now, Format: tar.FormatGNU}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	return tw.Close()
}

// writeSplice writes a spliced file as spliceStage expects it: the file itself empty, with its mode, and
// the changed middle as "s.index".
func writeSplice(tw *tar.Writer, h *tar.Header, prefix string, e stagedEntry, m Meter) error {
	h.Typeflag = tar.TypeReg
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	middle := &tar.Header{Name: prefix + "s." + strconv.Itoa(e.splice.index), Typeflag: tar.TypeReg, Mode: 0o600,
		Size: int64(len(e.splice.middle)), ModTime: h.ModTime, Format: tar.FormatGNU}
	if err := tw.WriteHeader(middle); err != nil {
		return err
	}
	if _, err := tw.Write(e.splice.middle); err != nil {
		return err
	}
	if m != nil {
		m.Add(1, e.Size)
	}
	return nil
}

func (s *Shell) applyFill(ctx context.Context, dest, stage string, staged []stagedEntry, deletes []string, src Source, m Meter) (int64, error) {
	var sent int64
	for len(staged) > 0 {
		n, args := fillArgs(staged)
		chunk := staged[:n]
		staged = staged[n:]
		argv := append([]string{"sh", "-c", fillScript, "kindling", dest, stage}, args...)
		k, err := s.stream(ctx, dest, argv, nil, streamSize(chunk, 0), func(w io.Writer) error {
			buf := make([]byte, 32<<10)
			for _, e := range chunk {
				if e.Kind != plan.File {
					continue
				}
				if e.path == "" {
					if _, err := io.WriteString(w, e.content); err != nil {
						return err
					}
					continue
				}
				if err := withFile(src, e, func(f io.Reader, _ time.Time) error { return copyExactly(w, f, e, buf, m) }); err != nil {
					return err
				}
			}
			return nil
		})
		sent += k
		if err != nil {
			// The script removes the staging directory when it fails, but not when only the local side did.
			s.run(context.WithoutCancel(ctx), dest, []string{"sh", "-c", deleteScript, "kindling", dest, "./" + stage})
			return sent, err
		}
	}
	return sent, s.run(ctx, dest, append([]string{"sh", "-c", commitScript, "kindling", dest, stage}, deletes...))
}

// fillArgs returns how many of staged fit into one fillScript call, and their arguments.
func fillArgs(staged []stagedEntry) (int, []string) {
	var args []string
	size, n := 0, 0
	for _, e := range staged {
		var triple []string
		switch {
		case e.Kind == plan.Dir:
			triple = []string{"d", "-", e.name}
		case e.Kind == plan.Symlink:
			triple = []string{"l", e.Hash, e.name}
		case e.Exec:
			triple = []string{"x", strconv.FormatInt(e.Size, 10), e.name}
		default:
			triple = []string{"f", strconv.FormatInt(e.Size, 10), e.name}
		}
		tripleSize := len(triple[0]) + len(triple[1]) + len(triple[2]) + 3
		if n > 0 && (n == maxFillFiles || size+tripleSize > maxArgBytes) {
			break
		}
		args = append(args, triple...)
		size += tripleSize
		n++
	}
	return n, args
}

// chunkArgs splits args into runs of at most maxBytes (counting a separator per argument) and maxCount.
func chunkArgs(args []string, maxBytes, maxCount int) [][]string {
	var chunks [][]string
	start, size := 0, 0
	for i, a := range args {
		if i > start && (size+len(a)+1 > maxBytes || i-start == maxCount) {
			chunks = append(chunks, args[start:i])
			start, size = i, 0
		}
		size += len(a) + 1
	}
	return append(chunks, args[start:])
}

// run executes a script that reads no stdin.
func (s *Shell) run(ctx context.Context, dest string, argv []string) error {
	var stderr bytes.Buffer
	if err := s.exec.Exec(ctx, argv, nil, nil, &stderr); err != nil {
		return s.applyError(dest, err, stderr.Bytes())
	}
	return nil
}

// stream executes argv with write's output as stdin and returns the number of bytes sent. A stream of
// an expected size up to MaxSessionInput (a save, not an initial sync) is written out first and handed
// over whole, which lets a Session run the command on its open shell; a larger one is produced while
// the command runs.
func (s *Shell) stream(ctx context.Context, dest string, argv []string, stdout io.Writer, size int64, write func(io.Writer) error) (int64, error) {
	var stderr bytes.Buffer
	if size <= MaxSessionInput {
		var whole bytes.Buffer
		if err := write(&whole); err != nil {
			return 0, err
		}
		n := int64(whole.Len())
		if err := s.exec.Exec(ctx, argv, bytes.NewReader(whole.Bytes()), stdout, &stderr); err != nil {
			return n, s.applyError(dest, err, stderr.Bytes())
		}
		return n, nil
	}
	pr, pw := io.Pipe()
	counted := &countingWriter{w: pw}
	written := make(chan error, 1)
	var sent atomic.Bool
	go func() {
		// The exec sends each write as its own message: batch the tar writer's 512-byte headers and
		// small files into full messages.
		buf := bufio.NewWriterSize(counted, streamBufferSize)
		err := write(buf)
		if err == nil {
			err = buf.Flush()
		}
		sent.Store(true)
		pw.CloseWithError(err)
		written <- err
	}()
	stdin := &quietStdin{r: pr}
	execCtx, stopExec := context.WithCancelCause(ctx)
	defer stopExec(nil)
	watching := make(chan struct{})
	go watchStall(watching, &stdin.n, &sent, size, func() { stopExec(errStalled) })
	err := s.exec.Exec(execCtx, argv, stdin, stdout, &stderr)
	close(watching)
	stdin.end()
	if errors.Is(context.Cause(execCtx), errStalled) && ctx.Err() == nil {
		return counted.n, fmt.Errorf("%s stopped answering during the transfer (no byte taken, or no end after the last, for %s: its processes were killed, or it hangs): dropped, trying again",
			s.exec.Target(), stallTimeout)
	}
	pr.CloseWithError(errStopped) // if the command stopped reading early, the writer must not wait for it
	// A script that succeeded has checked that it read everything it needed.
	switch werr := <-written; {
	case werr != nil && !errors.Is(werr, errStopped):
		return counted.n, werr
	case err != nil:
		return counted.n, s.applyError(dest, err, stderr.Bytes())
	}
	return counted.n, nil
}

// tarEntrySize is what a tar stream adds to each entry's content: a header block and padding.
const tarEntrySize = 1024

// streamSize is the expected size of a stream carrying the files among staged, with overhead bytes per entry.
func streamSize(staged []stagedEntry, overhead int64) int64 {
	n := 2 * overhead
	for _, e := range staged {
		n += overhead
		switch {
		case e.splice != nil:
			n += overhead + int64(len(e.splice.middle))
		case e.Kind == plan.File:
			n += e.Size
		}
	}
	return n
}

// streamBufferSize is the size of the writes into an exec's stdin: client-go copies stdin to the
// stream in reads of at most 32 KiB.
const streamBufferSize = 32 << 10

var errStopped = errors.New("command ended before reading all of its input")

// applyError explains a failed apply script: dest not writable gets its own error, anything else is
// the script's error output.
func (s *Shell) applyError(dest string, err error, stderr []byte) error {
	if exitCode(err) == exitSplice {
		return errNotKept
	}
	if exitCode(err) == exitSetup {
		for _, reason := range []string{"Permission denied", "Read-only file system"} {
			if bytes.Contains(stderr, []byte(reason)) {
				return &NotWritableError{Dest: dest, Target: s.exec.Target(), Reason: strings.ToLower(reason)}
			}
		}
	}
	return s.failure("writing files to", dest, err, stderr)
}

// exitCode is the exit status carried by err, or -1.
func exitCode(err error) int {
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, "exit status "); i >= 0 {
		if code, err := strconv.Atoi(msg[i+len("exit status "):]); err == nil {
			return code
		}
	}
	return -1
}

// quietStdin is an exec's stdin that ends with io.EOF once the command is over, instead of the error
// closing its pipe causes: client-go goes on copying stdin after the command exits, and logs (to the
// user's terminal) any error other than io.EOF.
type quietStdin struct {
	r    io.Reader
	over atomic.Bool
	// n counts the bytes the exec took, for watchStall.
	n atomic.Int64
}

func (q *quietStdin) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	q.n.Add(int64(n))
	if err != nil && q.over.Load() {
		err = io.EOF
	}
	return n, err
}

// end is called when the command has exited, before its stdin pipe is closed.
func (q *quietStdin) end() { q.over.Store(true) }

// stallTimeout is how long a streamed transfer may go without the container taking a byte before it is
// given up. A container whose transfer processes were killed does not end the exec while its stdin is
// open (the API server keeps the stream, client-go blocks in its write): without this the flush would
// wait for the whole operation's deadline, minutes for a large sync. A live container takes bytes as fast
// as it writes them to disk. (A variable for the tests.)
var stallTimeout = 10 * time.Second

var errStalled = errors.New("the transfer stalled")

// watchStall calls stall when taken stops growing for stallTimeout before everything was sent, or when
// the command has not ended a while after everything was: the buffers between kindling and the
// container (socket, API server, kubelet) can take a whole small transfer, so a container killed then
// never shows as a reader that stopped. What is left after the last byte is sent is draining those
// buffers and the commit: stallTimeout, plus a second per 4 MiB of the transfer. It returns when done is
// closed.
func watchStall(done <-chan struct{}, taken *atomic.Int64, sent *atomic.Bool, size int64, stall func()) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, since := taken.Load(), time.Now()
	var sentAt time.Time
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		switch n := taken.Load(); {
		case sent.Load():
			if sentAt.IsZero() {
				sentAt = time.Now()
			}
			if time.Since(sentAt) >= stallTimeout+time.Duration(size/(4<<20))*time.Second {
				stall()
				return
			}
		case n != last:
			last, since = n, time.Now()
		case time.Since(since) >= stallTimeout:
			stall()
			return
		}
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// withFile opens the source of a staged file and checks it still has the planned size.
func withFile(src Source, e stagedEntry, use func(f io.Reader, modTime time.Time) error) error {
	f, err := src.Open(e.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", e.path, ErrSourceChanged)
		}
		return err
	}
	defer f.Close()
	modTime := time.Now()
	if st, ok := f.(interface{ Stat() (fs.FileInfo, error) }); ok {
		info, err := st.Stat()
		if err != nil {
			return err
		}
		if info.Size() != e.Size {
			return fmt.Errorf("%s: %w", e.path, ErrSourceChanged)
		}
		modTime = info.ModTime()
	}
	return use(f, modTime)
}

// copyExactly copies the planned size of a file through buf, failing if the file turns out shorter or
// longer. One buffer serves all the files of a stream: io.Copy would allocate one per file. m, if not
// nil, counts the content as it goes and the file once it is complete.
func copyExactly(w io.Writer, f io.Reader, e stagedEntry, buf []byte, m Meter) error {
	if m != nil {
		w = &meteredWriter{w: w, m: m}
	}
	n, err := io.CopyBuffer(w, io.LimitReader(f, e.Size), buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if n < e.Size {
		return fmt.Errorf("%s: %w", e.path, ErrSourceChanged)
	}
	var extra [1]byte
	if n, _ := f.Read(extra[:]); n > 0 {
		return fmt.Errorf("%s: %w", e.path, ErrSourceChanged)
	}
	if m != nil {
		m.Add(1, 0)
	}
	return nil
}

func stageName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return ".kindling-stage." + hex.EncodeToString(b[:]), nil
}

// stagedEntry is one entry of the staging directory.
type stagedEntry struct {
	name string // inside the staging directory
	path string // the plan path it becomes, "" for the staging directory's own entries
	plan.Entry
	content string // of a file of the staging directory's own
	splice  *splice
}

// layout arranges a plan's new entries in the staging directory. Entries go into numbered directories,
// one per directory of dest that receives them, next to a file "k.at" naming that directory. A new
// directory (one not in dest yet) is staged whole under its nearest existing ancestor, so that a
// single rename brings a whole new subtree into place.
func layout(p plan.Plan, splices map[string]*splice) []stagedEntry {
	newDirs := make(map[string]bool, len(p.Mkdirs))
	for _, d := range p.Mkdirs {
		newDirs[d] = true
	}
	groups := map[string]string{} // target directory in dest → its group directory
	var out []stagedEntry
	place := func(path string, e plan.Entry) stagedEntry {
		anchor := parentDir(path)
		for i := 0; i <= len(path); i++ { // the outermost new directory containing path, if any
			if (i == len(path) || path[i] == '/') && newDirs[path[:i]] {
				anchor = parentDir(path[:i])
				break
			}
		}
		g, ok := groups[anchor]
		if !ok {
			g = strconv.Itoa(len(groups))
			groups[anchor] = g
			at := "."
			if anchor != "" {
				at += "/" + anchor
			}
			at += "\n"
			out = append(out,
				stagedEntry{name: g, Entry: plan.Entry{Kind: plan.Dir}},
				stagedEntry{name: g + ".at", Entry: plan.Entry{Kind: plan.File, Size: int64(len(at))}, content: at})
		}
		rel := path
		if anchor != "" {
			rel = path[len(anchor)+1:]
		}
		return stagedEntry{name: g + "/" + rel, path: path, Entry: e}
	}
	var items []stagedEntry
	for _, d := range p.Mkdirs {
		items = append(items, place(d, plan.Entry{Kind: plan.Dir}))
	}
	for _, l := range p.Symlinks {
		items = append(items, place(l.Path, l.Entry))
	}
	for _, w := range p.Writes {
		e := place(w.Path, w.Entry)
		e.splice = splices[w.Path]
		items = append(items, e)
	}
	// Directories before their content; files last, so the small entries lead the stream.
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Kind != items[j].Kind {
			return kindOrder(items[i].Kind) < kindOrder(items[j].Kind)
		}
		return items[i].Kind == plan.Dir && items[i].name < items[j].name
	})
	return append(out, items...)
}

func kindOrder(k plan.Kind) int {
	switch k {
	case plan.Dir:
		return 0
	case plan.Symlink:
		return 1
	}
	return 2
}

func parentDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// validate rejects a dest or plan path that could escape dest or confuse the scripts.
func validate(dest string, p plan.Plan) error {
	if dest == "" || strings.IndexByte(dest, 0) >= 0 {
		return fmt.Errorf("invalid destination %q", dest)
	}
	check := func(path string) error {
		if path == "" || strings.IndexByte(path, 0) >= 0 {
			return fmt.Errorf("invalid path %q in plan", path)
		}
		for _, c := range strings.Split(path, "/") {
			if c == "" || c == "." || c == ".." {
				return fmt.Errorf("invalid path %q in plan", path)
			}
		}
		return nil
	}
	for _, d := range p.Deletes {
		if err := check(d); err != nil {
			return err
		}
	}
	for _, d := range p.Mkdirs {
		if err := check(d); err != nil {
			return err
		}
	}
	links := make(map[string]bool, len(p.Symlinks))
	for _, items := range [][]plan.Item{p.Writes, p.Symlinks} {
		for _, it := range items {
			if err := check(it.Path); err != nil {
				return err
			}
			if it.Kind == plan.Symlink {
				if it.Hash == "" || strings.IndexByte(it.Hash, 0) >= 0 {
					return fmt.Errorf("invalid symlink target %q for %q in plan", it.Hash, it.Path)
				}
				links[it.Path] = true
			}
		}
	}
	// Nothing may be staged beneath a symlink the same plan stages: extracting or moving it would go
	// wherever the symlink points.
	if len(links) > 0 {
		for _, paths := range [][]string{p.Mkdirs, itemPaths(p.Writes), itemPaths(p.Symlinks)} {
			for _, path := range paths {
				for d := parentDir(path); d != ""; d = parentDir(d) {
					if links[d] {
						return fmt.Errorf("invalid plan: %q lies under the symlink %q", path, d)
					}
				}
			}
		}
	}
	return nil
}

func itemPaths(items []plan.Item) []string {
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = it.Path
	}
	return paths
}
