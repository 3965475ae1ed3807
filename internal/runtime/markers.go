package runtime

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
)

// markerCache answers which source markers exist in the local tree (--src), reading each one once.
// A nil cache, or one without a directory, has no markers.
type markerCache struct {
	src  string
	seen map[*row]string
}

func newMarkerCache(src string) *markerCache {
	return &markerCache{src: src, seen: map[*row]string{}}
}

// found returns the first file or directory, relative to src, that marks the source as r's, or "".
func (m *markerCache) found(r *row) string {
	if m == nil || m.src == "" {
		return ""
	}
	if f, ok := m.seen[r]; ok {
		return f
	}
	f := ""
	for _, g := range r.markers {
		if f = m.glob(g); f != "" {
			break
		}
	}
	m.seen[r] = f
	return f
}

// glob matches a pattern whose last element may hold wildcards ("src/*.c"). The directory is read rather
// than globbed so that wildcard characters in src itself are taken literally.
func (m *markerCache) glob(pattern string) string {
	dir, name := path.Split(pattern)
	entries, err := os.ReadDir(filepath.Join(m.src, filepath.FromSlash(dir)))
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if ok, _ := path.Match(name, e.Name()); ok {
			return dir + e.Name()
		}
	}
	return ""
}

// best returns the first row, in table order, whose markers are present, and the marker found.
func (m *markerCache) best() (*row, string) {
	for i := range table {
		if f := m.found(&table[i]); f != "" {
			return &table[i], f
		}
	}
	return nil, ""
}

// packageScript returns the commands of a package.json script (what `npm start` runs), or npm's own
// default for start, `node server.js`, when package.json has no start script but server.js exists.
func (m *markerCache) packageScript(name string) [][]string {
	if m == nil || m.src == "" {
		return nil
	}
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	if data, err := os.ReadFile(filepath.Join(m.src, "package.json")); err == nil {
		// A package.json that does not parse has no scripts to go by; detection falls back to markers.
		_ = json.Unmarshal(data, &pkg)
	}
	if script, ok := pkg.Scripts[name]; ok {
		return shellCommands([]string{"-c", script})
	}
	if _, err := os.Stat(filepath.Join(m.src, "server.js")); name == "start" && err == nil {
		return [][]string{{"node", "server.js"}}
	}
	return nil
}
