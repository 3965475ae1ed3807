package transport

// The shell scripts Shell runs in the container. Each is a constant run as
//
//	sh -c <script> kindling <args...>
//
// so that file names only ever reach the container as arguments or inside a stream, never as script
// text. They use POSIX sh and options that GNU coreutils/findutils/tar and BusyBox share.

// probeTools are the commands Shell may use; the probe reports which of them the container has.
var probeTools = []string{"tar", "find", "xargs", "stat", "sha256sum", "readlink", "mkdir", "mv", "rm", "ln", "chmod", "dd", "wc", "gzip", "zstd", "head", "tail", "cat"}

// probeDone ends the probe's output, so that a shell that died half-way is not mistaken for missing tools.
const probeDone = "kindling-probe-done"

// findPrintf is the probe's name for a find with -printf (GNU findutils), which lists a tree with each
// path's stat in one pass.
const findPrintf = "find-printf"

// ddFullblock is the probe's name for a dd whose iflag=fullblock works: its reads of a pipe fill whole
// blocks. Only such a dd can cut a stream into files of exact sizes (fillScript), or hand a Session's
// command exactly its stdin.
const ddFullblock = "dd-fullblock"

// probeScript prints, one per line, the names among its arguments that are commands in the container,
// findPrintf when find has -printf, and ddFullblock when dd reads 3 bytes whole with iflag=fullblock (a
// dd without it, older BusyBox or toybox, fails or prints nothing). That proves the flag is taken, not
// that every read is whole: what a dd that ignores it lets through short is caught where the bytes
// land (the session's secret line, fillScript's sizes).
const probeScript = `for t; do command -v "$t" >/dev/null 2>&1 && printf '%s\n' "$t"; done
find / -maxdepth 0 -printf '' >/dev/null 2>&1 && echo ` + findPrintf + `
[ "$( { printf abc | dd bs=3 count=1 iflag=fullblock; } 2>/dev/null)" != abc ] || echo ` + ddFullblock + `
echo ` + probeDone

// manifestHeader starts the manifest of a dest that exists; no output at all means it does not.
const manifestHeader = "kindling-manifest"

// staleStageCleanup removes the staging directories that an interrupted Apply left in the working
// directory: at once when the shell that filled it (named in its .pid file, see tarApplyScript) no longer
// runs, as after a transfer cut by a killed exec; else an hour after it was made. The glob finds out
// whether there is any without starting a process, so find only runs when there is one: nearly never.
const staleStageCleanup = `for s in ./.kindling-stage.*; do
	[ -e "$s" ] || break
	case $s in *.pid) ;; *) continue ;; esac
	p=
	{ read -r p <"$s"; } 2>/dev/null
	case $p in '' | *[!0-9]*) continue ;; esac
	kill -0 "$p" 2>/dev/null || rm -rf -- "${s%.pid}" "$s"
done
for s in ./.kindling-stage.*; do
	[ -e "$s" ] && find . -maxdepth 1 -name '.kindling-stage.*' -mmin +60 -exec rm -rf {} + 2>/dev/null
	break
done
`

// pruneLoop turns the arguments left after the fixed ones into find operators that match the
// directories to skip: a name (no slash) at any depth, or a path from dest ("./a/b"). They come from
// literal rules (ignore.Matcher.Prunable), so find's patterns match them as they are; being arguments,
// never script text, any name is safe.
const pruneLoop = `for a; do
	case $a in
	*/*) set -- "$@" -o -type d -path "$a" ;;
	*) set -- "$@" -o -type d -name "$a" ;;
	esac
	shift
done
`

// listScript lists the tree under $1, leaving out the directories to prune ($2...: see pruneLoop);
// no output at all means it does not exist. Its output, all NUL-framed:
//
//	kindling-manifest\0
//	./dir\0 ... \0      directories, ended by an empty record
//	./link\0 ... \0     symlinks, ended by an empty record
//	./file\0 ... \0     regular files, ended by an empty record
//
// Staging directories of Apply are left out, and removed when an interrupted Apply left them behind more
// than an hour ago. A dest the container's user cannot write to ends it with exitLocked.
const listScript = `[ -e "$1" ] || [ -L "$1" ] || exit 0
cd -- "$1" || exit 90
[ -w . ] || exit 93
shift
` + pruneLoop + staleStageCleanup + `printf '` + manifestHeader + `\0'
for t in d l f; do
	find . \( -path './.kindling-stage.*' "$@" \) -prune -o -type $t -print0
	printf '\0'
done`

// listStatScript is listScript in one pass of GNU find, each path with its stat key and symlink target.
// Its output, after the header, is four NUL-terminated fields per path: the kind (d, l, f, or another of
// find's %y letters), the path, "size mode inode mtime ctime" (mode in octal, times in seconds since the
// epoch) and the symlink target. It is about 100 bytes a file, so it goes through gzip where there is one
// (the reader knows it by gzip's magic number). With $2, the fingerprint (sha256) of a listing kept from
// before, a listing with that fingerprint is answered by listingUnchanged alone; the stat keys in it
// make any change to the tree change the fingerprint. $3... are the directories to prune (see
// pruneLoop).
const listStatScript = `[ -e "$1" ] || [ -L "$1" ] || exit 0
cd -- "$1" || exit 90
[ -w . ] || exit 93
kept=$2
shift 2
` + pruneLoop + staleStageCleanup + `list() {
	printf '` + manifestHeader + `\0'
	find . \( -path './.kindling-stage.*' "$@" \) -prune -o -printf '%y\0%p\0%s %m %i %T@ %C@\0%l\0'
}
if [ -n "$kept" ] && command -v sha256sum >/dev/null 2>&1; then
	sum=$(list "$@" | sha256sum)
	[ "${sum%% *}" != "$kept" ] || { printf '` + listingUnchanged + `\0'; exit 0; }
fi
if command -v gzip >/dev/null 2>&1; then list "$@" | gzip -1; else list "$@"; fi`

// listingUnchanged is listStatScript's whole answer when the listing has the fingerprint it was given.
const listingUnchanged = "kindling-unchanged"

// describeScript describes the NUL-separated paths (relative to $1, each starting with "./") on its
// stdin, symlinks first, then files: $2 is manifestBatchScript, $3 the hash mode ("sha256" or "none").
const describeScript = `cd -- "$1" || exit 90
exec xargs -0 -r sh -c "$2" kindling-batch "$3"`

// manifestBatchScript describes the paths it is given: symlinks first, then files. Output:
//
//	B\0<n>\0                   n = number of paths in this batch
//	l\0<target>\0              for each leading symlink (an empty target if it could not be read)
//	S\0<m>\0                   m = number of files that follow
//	<size> <octal mode> <key>\n m lines from stat ("- -" for a file that could not be read); the key is
//	                           the inode and the modification and change times to the nanosecond
//	then, with hash mode "sha256", either
//	h\0<sha256sum output>      one line per file, in order, with the file's name as given
//	p\0<hash>\n                m lines, one hash per file (empty if unreadable)
//
// The common path is one stat and one sha256sum for the whole batch; the per-file forms are only used
// when a file vanished or became unreadable meanwhile, so that the output stays aligned with the input.
//
// No path is read through a symbolic link: stat and readlink follow a linked directory above the path,
// sha256sum a path that is itself a link, wherever it leads. find lists a symlink and never what is
// under it, so a link there was made after the listing. Before anything is read, each distinct parent
// directory, up to one already found clean, is checked with [ -L ] (a builtin), and so is each file
// after the leading symlinks. The first path refused ends the batch with
//
//	L\0<path>\0<link>\0         in place of a B or l record; link is the path or a directory above it
//
// and Manifest lists the tree again. Like the apply scripts' check, it is of the tree as it stands: an
// app that makes the link between the check and the read is not stopped.
const manifestBatchScript = `mode=$1; shift
ok=. d=
for p; do
	r=${p%/*}
	[ "$r" != "$d" ] || continue
	d=$r
	while [ "$r" != . ] && [ "$r" != "$ok" ]; do
		[ ! -L "$r" ] || { printf 'L\0%s\0%s\0' "$p" "$r"; exit 0; }
		r=${r%/*}
	done
	ok=$d
done
printf 'B\0%d\0' $#
while [ $# -gt 0 ] && [ -L "$1" ]; do
	if t=$(readlink -- "$1" && echo .); then t=${t%.}; printf 'l\0%s\0' "${t%?}"; else printf 'l\0\0'; fi
	shift
done
for f; do
	[ ! -L "$f" ] || { printf 'L\0%s\0%s\0' "$f" "$f"; exit 0; }
done
printf 'S\0%d\0' $#
[ $# -gt 0 ] || exit 0
if s=$(stat -c '%s %a %i %y %z' -- "$@" 2>/dev/null); then
	printf '%s\n' "$s"
else
	for f; do s=$(stat -c '%s %a %i %y %z' -- "$f" 2>/dev/null) || s='- -'; printf '%s\n' "$s"; done
fi
[ "$mode" = sha256 ] || exit 0
if h=$(sha256sum -- "$@" 2>/dev/null && echo .); then
	printf 'h\0%s' "${h%.}"
else
	printf 'p\0'
	for f; do h=$(sha256sum <"$f" 2>/dev/null) || h=; printf '%s\n' "${h%% *}"; done
fi
exit 0`

// Exit statuses the apply scripts use to say which step failed.
const (
	exitSetup  = 90 // dest or the staging directory could not be created
	exitFill   = 91 // the staging directory could not be filled
	exitApply  = 92 // a delete or a rename into dest failed
	exitLocked = 93 // dest exists, but the container's user cannot write to it
	exitSplice = 94 // a splice could not be rebuilt from the container's file (spliceStage)
)

// stagePrelude creates dest ($1) and the staging directory $1/$2 inside it, and makes dest the working
// directory. The staging directory is on dest's filesystem, so that renaming out of it is atomic.
const stagePrelude = `S=./$2
mkdir -p -- "$1/$2" && cd -- "$1" || exit 90
shift 2
trap 'exit 129' HUP INT TERM
`

// removeStage removes the staging directory (and its .pid file) however the script ends.
const removeStage = `trap 'rm -rf -- "$S" "$S.pid"' EXIT
`

// notLinked DIR PATH fails, saying why, when DIR (a directory under dest starting with "./", or ".") or
// a directory above it inside dest is a symbolic link: a delete or a rename through it could land
// outside dest, wherever the app pointed it. It only runs builtins (lstat), no process. The check is of
// the tree as it stands: an app that swaps a directory for a symlink between the check and the rename
// is not stopped.
const notLinked = `notLinked() {
	r=$1
	while [ "$r" != . ]; do
		if [ -L "$r" ]; then
			printf 'refusing to write or delete %s: %s is a symbolic link, which may lead out of the destination\n' "$2" "${r#./}" >&2
			return 1
		fi
		r=${r%/*}
	done
}
`

// checkDeletes fails (exit 92) before anything is deleted when one of the paths given as arguments lies
// under a symbolic link; each parent directory is checked once (the paths come sorted, siblings
// together). It needs notLinked.
const checkDeletes = `ok=1 d=.
for p; do
	[ "${p%/*}" != "$d" ] || continue
	d=${p%/*}
	notLinked "$d" "${p#./}" || ok=
done
[ -n "$ok" ] || exit 92
`

// commitStage deletes the paths given as arguments (relative to dest, each starting with "./"), then
// moves the staged entries into place. The staging directory holds, for each target directory k, a
// directory k with the entries to move and a file k.at naming the target ("./a/b", or "." for dest),
// so that each entry is renamed into its target directory, whatever its name: new directories move as a
// whole, files replace their old version atomically (a symlink in their place is replaced, not
// followed). Nothing changes when a delete or a target directory lies under a symbolic link. k.at is
// read with read, not a process: a name may hold newlines, so its lines are joined again.
//
// The renames into 3 target directories or more are one process for all where the container has perl
// (renameAll): a save's files may be spread over many directories, and a process costs 5–10 ms in a busy
// container (50 directories took half a second with one mv each; perl starts in about what 2 mv take).
// What it leaves in the staging directory (no perl, a rename that failed: across a mount point inside
// dest, onto a directory) one mv per target directory then moves, or fails as it would have anyway.
// It needs notLinked.
const commitStage = checkDeletes + `nl='
'
at() {
	a= n=
	while IFS= read -r l; do a=$a$n$l n=$nl; done <"$1"
}
for g in "$S"/*.at; do
	[ -f "$g" ] || continue
	at "$g"
	notLinked "$a" "${a#./}/" || ok=
done
[ -n "$ok" ] || exit 92
[ $# -eq 0 ] || rm -rf -- "$@" || exit 92
set -- "$S"/*.at
[ $# -lt 3 ] || ! command -v perl >/dev/null 2>&1 || perl -e '` + renameAll + `' "$@" 2>/dev/null
for g in "$S"/*.at; do
	[ -f "$g" ] || continue
	at "$g"
	for p in '*' '.[!.]*' '..?*'; do
		set -- "${g%.at}"/$p
		[ -e "$1" ] || [ -L "$1" ] || continue
		mv -f -- "$@" "$a/" || exit 92
	done
done
`

// renameAll is perl's half of commitStage: for each k.at file given, it renames every entry of the
// staging directory k into the target directory the file names (its content less the final newline:
// "." or "./…", else the group is left alone), and leaves an entry whose rename fails where it is. The
// entries are read before any is renamed.
const renameAll = `for $g (@ARGV) {
	open(F, "<", $g) or next;
	{ local $/; $t = <F>; }
	close(F);
	$t =~ s/\n\z//;
	$t =~ m{\A\.(/|\z)} or next;
	($d = $g) =~ s/\.at\z//;
	opendir(D, $d) or next;
	@e = grep { $_ ne "." && $_ ne ".." } readdir(D);
	closedir(D);
	rename("$d/$_", "$t/$_") for @e;
}`

// streamComplete is the last entry of Apply's tar stream: a stream cut short by a failure on the local
// side can end cleanly between two entries, and must not be committed.
const streamComplete = "complete"

// streamWritten is the entry of Apply's tar stream listing, NUL-separated, the files to describe once
// they are in place.
const streamWritten = "written"

// tarApplyScript fills the staging directory from the tar stream on stdin, which creates it inside dest,
// and commits it. Then, when $3 is manifestBatchScript, it describes the files the stream listed in
// streamWritten (stat only), as a manifest would; that is only a report, so it cannot fail the apply.
// Arguments: dest, staging directory name, manifestBatchScript or "", the number of splices and five
// arguments for each (see spliceStage), paths to delete.
var tarApplyScript = tarApplyWith("tar -x -o -f -")

// gzipApplyScript and zstdApplyScript are tarApplyScript for a compressed stream (see codecs). A stream
// that the decompressor cannot finish ends the tar early, which the stream's last entry (streamComplete)
// tells.
var (
	gzipApplyScript = tarApplyWith("gzip -dc | tar -x -o -f -")
	zstdApplyScript = tarApplyWith("zstd -dc | tar -x -o -f -")
)

func tarApplyWith(extract string) string {
	return `S=./$2
cd -- "$1" 2>/dev/null || { mkdir -p -- "$1" && cd -- "$1"; } || exit 90
shift 2
trap 'exit 129' HUP INT TERM
batch=$1
shift
` + removeStage + `printf '%s\n' "$$" >"$S.pid" || exit 90
` + extract + ` || exit 91
[ -f "$S/` + streamComplete + `" ] || { echo 'tar stream ended early' >&2; exit 91; }
` + notLinked + spliceStage + commitStage + `[ -z "$batch" ] || xargs -0 -r sh -c "$batch" kindling-batch none <"$S/` + streamWritten + `" || true
`
}

// spliceStage rebuilds the files the tar stream carried as splices (see Shell.splices). Its first
// argument is their number n; then, for each, five: the file in the staging directory (an empty file of
// the stream, so that it has its mode), the file in dest it replaces ("./path"), the number of bytes to
// take from the start and from the end of that file, and the sha256 the result must have. The changed
// middle of the i-th (from 0) is the stream's file "s.i". The file in dest is read only when it is a
// regular file under no symbolic link (a FIFO would hang head, a link could lead anywhere). When it is
// not, or the result's sha256 differs (the container's file is not the version kindling kept a copy of),
// the script ends with exitSplice before anything is committed, and kindling sends the files whole.
const spliceStage = `n=$1 i=0
shift
while [ $i -lt "$n" ]; do
	f=$S/$1
	notLinked "${2%/*}" "${2#./}" || exit 92
	[ -f "$2" ] && [ ! -L "$2" ] || exit 94
	{
		[ "$3" = 0 ] || head -c "$3" <"$2" || exit 94
		cat "$S/s.$i" || exit 94
		[ "$4" = 0 ] || tail -c "$4" <"$2" || exit 94
	} >"$f"
	h=$(sha256sum <"$f") && [ "${h%% *}" = "$5" ] || exit 94
	shift 5
	i=$((i + 1))
done
`

// fillScript is the way to fill the staging directory when the container has no tar: arguments after
// dest and the staging directory name are triples "d - path" (directory), "l target path" (symlink),
// "f size path" or "x size path" (file, x = executable), and stdin holds the files' contents back to
// back. dd reads each file's exact size in blocks of 64 KiB and one for the rest; head cannot, since
// BusyBox's head reads ahead on a pipe. Apply only runs it where the probe found ddFullblock.
//
// A dd that takes iflag=fullblock but ignores it reads a pipe short: that file comes out short, and the
// rest of it is taken for the next files. So the size of every file is checked once all are written
// (one stat for all of them; wc where there is no stat): dd never writes more than it was asked for,
// so equal sizes mean that every file got exactly its own bytes. Any other size fails the call (exit
// 91, the staging directory removed) before anything is committed. The files checked are kept at the
// end of "$@" as the triples are shifted off. The staging directory is kept for the next call unless
// this one fails.
const fillScript = stagePrelude + `filled=
trap '[ "$filled" = 1 ] || rm -rf -- "$S"' EXIT
copy() {
	if [ $(($1 / 65536)) -gt 0 ]; then dd bs=65536 count=$(($1 / 65536)) iflag=fullblock status=none || return; fi
	if [ $(($1 % 65536)) -gt 0 ]; then dd bs=$(($1 % 65536)) count=1 iflag=fullblock status=none || return; fi
}
nl='
'
want=
i=$(($# / 3))
while [ $i -gt 0 ]; do
	p=$S/$3
	case $1 in
	d) mkdir -p -- "$p" ;;
	l) ln -s -- "$2" "$p" ;;
	f) copy "$2" >"$p" ;;
	x) copy "$2" >"$p" && chmod 755 "$p" ;;
	esac || exit 91
	case $1 in
	f | x) set -- "$@" "$p" && want=$want$2$nl ;;
	esac
	shift 3
	i=$((i - 1))
done
if [ $# -gt 0 ] && [ "$(stat -c %s -- "$@" 2>/dev/null)$nl" != "$want" ]; then
	for p; do
		n=${want%%"$nl"*}
		want=${want#*"$nl"}
		s=$(stat -c %s -- "$p" 2>/dev/null || wc -c <"$p")
		s=${s##* }
		[ "$s" = "$n" ] && continue
		printf 'dd read short: a file of %s bytes came out with %s (its iflag=fullblock does not fill whole blocks); nothing was changed: add tar to the image\n' "$n" "${s:-no size}" >&2
		exit 91
	done
fi
filled=1`

// commitScript commits a staging directory filled by earlier fillScript calls.
// Arguments: dest, staging directory name, paths to delete.
const commitScript = stagePrelude + removeStage + notLinked + commitStage

// deleteScript removes paths (relative to dest $1, each starting with "./"); it is used before the main
// call when there are too many deletions to pass in one command line.
const deleteScript = `cd -- "$1" 2>/dev/null || exit 0
shift
` + notLinked + checkDeletes + `rm -rf -- "$@" || exit 92`
