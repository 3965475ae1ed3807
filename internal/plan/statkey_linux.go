package plan

import (
	"io/fs"
	"syscall"
)

func keyOf(info fs.FileInfo) (statKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return statKey{}, false
	}
	return keyOfStat(st), true
}

// lstatKey is keyOf(os.Lstat(p)) without the FileInfo os.Lstat allocates for each file of the tree. A
// failure only means that the file is read.
func lstatKey(p string) (statKey, bool) {
	var st syscall.Stat_t
	if syscall.Lstat(p, &st) != nil {
		return statKey{}, false
	}
	return keyOfStat(&st), true
}

func keyOfStat(st *syscall.Stat_t) statKey {
	return statKey{size: st.Size, mod: st.Mtim.Nano(), change: st.Ctim.Nano(), ino: st.Ino, mode: st.Mode}
}
