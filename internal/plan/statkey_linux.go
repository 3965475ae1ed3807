package plan

import (
	"io/fs"
	"syscall"
)

// statKey is what tells a file apart from its earlier versions without reading it.
type statKey struct {
	Size, Mod, Change int64
	Ino               uint64
	Mode              uint32
}

func keyOf(info fs.FileInfo) (statKey, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return statKey{}, false
	}
	return statKey{Size: st.Size, Mod: st.Mtim.Nano(), Change: st.Ctim.Nano(), Ino: st.Ino, Mode: st.Mode}, true
}
