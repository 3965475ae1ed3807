package build

import (
	"path"
	"path/filepath"
	"strings"
)

// docNames are the names of documents no build reads, alone or with .txt or a suffix (README,
// LICENSE-MIT, CHANGELOG.txt); with Markdown and the like any name is a document.
var docNames = []string{"readme", "license", "licence", "copying", "changelog", "changes", "contributing",
	"authors", "notice", "code_of_conduct", "security"}

// notBuilt are, per language, files and directories the default build leaves out: tests and examples.
// A pattern ending in "/" is a top-level directory; any other pattern matches a base name.
var notBuilt = map[string][]string{
	"go":     {"*_test.go"},
	"rust":   {"tests/", "benches/", "examples/"},
	"java":   {"src/test/"},
	"kotlin": {"src/test/"},
}

// UsesFile says whether a change to the file at rel (relative to the source root) can change the build
// of a language, so that editing a README neither rebuilds nor restarts the app. It errs towards yes:
// a build may embed nearly any file (Go's embed, include_str!, resources), so only documentation, editor
// and repository housekeeping, and the language's own tests and examples are left out.
func UsesFile(language, rel string) bool {
	rel = path.Clean(filepath.ToSlash(rel))
	base := strings.ToLower(path.Base(rel))
	for _, dir := range []string{"docs/", "doc/", ".github/", ".vscode/", ".idea/"} {
		if strings.HasPrefix(rel+"/", dir) {
			return false
		}
	}
	switch path.Ext(base) {
	case ".md", ".markdown", ".rst", ".adoc":
		return false
	}
	switch base {
	case ".gitignore", ".gitattributes", ".dockerignore", ".editorconfig", ".kindlingignore":
		return false
	}
	if ext := path.Ext(base); ext == "" || ext == ".txt" {
		stem := strings.TrimSuffix(base, ext)
		for _, d := range docNames {
			if stem == d || strings.HasPrefix(stem, d+"-") {
				return false
			}
		}
	}
	for _, p := range notBuilt[language] {
		if dir, ok := strings.CutSuffix(p, "/"); ok {
			if strings.HasPrefix(rel, dir+"/") {
				return false
			}
		} else if ok, _ := path.Match(p, path.Base(rel)); ok {
			return false
		}
	}
	return true
}
