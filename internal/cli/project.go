package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// projectFileName is the project file kindling looks for in the current directory and its parents.
const projectFileName = "kindling.yaml"

// project is a parsed kindling.yaml: defaults for every entry, and the entries. Its keys are the flags'
// long names, so what a user knows from the command line is what they write in the file.
type project struct {
	path     string
	defaults fields
	syncs    []fields
}

// fields are the keys of one part of the file, by flag name, each with the line it was on.
type fields struct {
	line   int
	values map[string]field
}

type field struct {
	line  int
	value any // string, bool, []string or time.Duration, as the key's kind says
}

// keyKind is what a key of the project file holds.
type keyKind int

const (
	stringKey keyKind = iota
	boolKey
	listKey
	durationKey
)

// projectKeys are the keys the file accepts: the top level gives defaults for the connection and the
// options every entry shares; an entry may set any of them, plus what is its own.
var (
	defaultKeys = map[string]keyKind{
		"namespace": stringKey, "context": stringKey, "kubeconfig": stringKey,
		"debounce": durationKey, "exclude": listKey, "restart": boolKey, "helper-image": stringKey,
		"compress": stringKey,
	}
	entryKeys = map[string]keyKind{
		"deployment": stringKey, "namespace": stringKey, "src": stringKey, "dest": stringKey,
		"container": stringKey, "restart": boolKey, "exclude": listKey, "debounce": durationKey,
		"language": stringKey, "build-cmd": stringKey, "build-output": stringKey,
		"no-install": boolKey, "on-change": listKey, "helper-image": stringKey, "compress": stringKey,
	}
)

// findProject looks for kindling.yaml in dir and then its parents, as git looks for .git; "" when none.
func findProject(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		candidate := filepath.Join(dir, projectFileName)
		if info, err := os.Stat(candidate); err == nil && info.Mode().IsRegular() {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// loadProject reads and checks a project file; every error names the file and line and says the fix.
func loadProject(path string) (*project, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", path, err)
	}
	return parseProject(path, data)
}

func parseProject(path string, data []byte) (*project, error) {
	p := &project{path: path}
	fail := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s is empty: list what to sync under `syncs:` (kindling init writes a starter file)", path)
		}
		// The parser says "yaml: line N: what"; said as path:N like every other error about the file.
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		var line int
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
			return nil, fail(line, "%s (this is not valid YAML)", strings.TrimSpace(msg[strings.Index(msg, ":")+1:]))
		}
		return nil, fmt.Errorf("%s: %s (this is not valid YAML)", path, msg)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "the file must be a mapping with a `syncs:` list")
	}
	var syncs *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "syncs" {
			syncs = root.Content[i+1]
		}
	}
	var err error
	if p.defaults, err = readFields(root, defaultKeys, "syncs", fail); err != nil {
		return nil, err
	}
	if syncs == nil {
		return nil, fail(root.Line, "no `syncs:` list: add one entry per Deployment, each at least `- deployment: NAME`")
	}
	if syncs.Kind != yaml.SequenceNode {
		return nil, fail(syncs.Line, "`syncs` must be a list of entries, each starting `- deployment: NAME`")
	}
	seen := map[string]int{}
	for _, item := range syncs.Content {
		if item.Kind != yaml.MappingNode {
			return nil, fail(item.Line, "an entry of `syncs` must be a mapping such as `- deployment: NAME`")
		}
		entry, err := readFields(item, entryKeys, "", fail)
		if err != nil {
			return nil, err
		}
		d, ok := entry.values["deployment"]
		if !ok || d.value.(string) == "" {
			return nil, fail(item.Line, "this entry has no `deployment:`; name the Deployment it syncs into")
		}
		name := d.value.(string)
		if first, dup := seen[name]; dup {
			return nil, fail(d.line, "deployment %q is listed twice (first on line %d); merge the two entries", name, first)
		}
		seen[name] = d.line
		p.syncs = append(p.syncs, entry)
	}
	if len(p.syncs) == 0 {
		return nil, fail(syncs.Line, "`syncs` is empty: add one entry per Deployment, each at least `- deployment: NAME`")
	}
	return p, nil
}

// readFields reads a mapping's keys into fields, refusing unknown keys and values of the wrong kind.
// skip is a key handled by the caller.
func readFields(m *yaml.Node, known map[string]keyKind, skip string, fail func(int, string, ...any) error) (fields, error) {
	f := fields{line: m.Line, values: map[string]field{}}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Value == skip {
			continue
		}
		// on_change reads as on-change: YAML users write either.
		k.Value = strings.ReplaceAll(k.Value, "_", "-")
		kind, ok := known[k.Value]
		if !ok {
			return f, fail(k.Line, "unknown key %q; the keys here are %s", k.Value, keyList(known))
		}
		if _, dup := f.values[k.Value]; dup {
			return f, fail(k.Line, "key %q is given twice; keep one", k.Value)
		}
		value, err := decodeValue(v, kind)
		if err != nil {
			return f, fail(v.Line, "%s: %v", k.Value, err)
		}
		f.values[k.Value] = field{line: v.Line, value: value}
	}
	return f, nil
}

func decodeValue(v *yaml.Node, kind keyKind) (any, error) {
	switch kind {
	case boolKey:
		var b bool
		if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
			return nil, fmt.Errorf("want true or false, not %q", v.Value)
		}
		return b, nil
	case listKey:
		var list []string
		if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
			return []string{v.Value}, nil
		}
		if v.Kind != yaml.SequenceNode || v.Decode(&list) != nil {
			return nil, fmt.Errorf("want a list of patterns such as [\"*.map\", \"tmp/\"]")
		}
		return list, nil
	case durationKey:
		d, err := time.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil {
			return nil, fmt.Errorf("want a duration such as 500ms or 2s, not %q", v.Value)
		}
		return d, nil
	}
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" && v.Tag != "!!int" && v.Tag != "!!float" {
		return nil, fmt.Errorf("want a string, not a %s", nodeKind(v))
	}
	return v.Value, nil
}

func nodeKind(v *yaml.Node) string {
	switch v.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	}
	return strings.TrimPrefix(v.Tag, "!!")
}

func keyList(known map[string]keyKind) string {
	keys := make([]string, 0, len(known))
	for k := range known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// entryNames lists the project's Deployments in file order, for messages.
func (p *project) entryNames() []string {
	names := make([]string, len(p.syncs))
	for i, e := range p.syncs {
		names[i] = e.values["deployment"].value.(string)
	}
	return names
}
