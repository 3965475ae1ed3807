package build

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// treeSuffix ends an Output that names a whole directory tree to search, like Go's ./... patterns.
const treeSuffix = "..."

// findOutput resolves Spec.Output after a build that started at start.
func findOutput(output string, start time.Time) (string, error) {
	if output == "" {
		return "", fmt.Errorf("build: no artifact path is known; pass --build-output")
	}
	dir, last := filepath.Split(output)
	var candidates []string
	switch {
	case last == treeSuffix:
		// An unreadable subdirectory only hides candidates; the search goes on.
		_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() && p != filepath.Clean(dir) && skipDir(e.Name()) {
				return filepath.SkipDir
			}
			if err == nil && !e.IsDir() {
				candidates = append(candidates, p)
			}
			return nil
		})
	case strings.ContainsAny(last, `*?[\`):
		candidates, _ = filepath.Glob(output) // the only error is a malformed pattern: no match
	default:
		info, err := os.Stat(output)
		if err != nil || !info.Mode().IsRegular() {
			return "", fmt.Errorf("the build succeeded but wrote no file %s; pass --build-output with the artifact's path", output)
		}
		return output, nil
	}
	newest, newestTime := "", time.Time{}
	for _, c := range candidates {
		info, err := os.Stat(c)
		if err != nil || !info.Mode().IsRegular() || info.ModTime().Before(start) || !isArtifact(c, info.Mode()) {
			continue
		}
		if info.ModTime().After(newestTime) {
			newest, newestTime = c, info.ModTime()
		}
	}
	if newest == "" {
		return "", fmt.Errorf("the build succeeded but wrote no artifact matching %s; pass --build-output with the artifact's path", output)
	}
	return newest, nil
}

// skipDir leaves out of a tree search the directories that hold no build output of the project:
// version control, dependencies and CMake's compiler probes (whose a.out is an executable too).
func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "node_modules" || name == "CMakeFiles"
}

// secondaryJar matches the jars a build writes beside the application jar.
var secondaryJar = regexp.MustCompile(`(-sources|-javadoc|-tests?|-plain)\.jar$|^original-`)

// sharedLib matches shared libraries, which a linker leaves executable.
var sharedLib = regexp.MustCompile(`\.so(\.[0-9]+)*$`)

// isArtifact says whether a file a build wrote can be the app: the application jar, or an executable.
func isArtifact(path string, mode fs.FileMode) bool {
	name := filepath.Base(path)
	if strings.HasSuffix(name, ".jar") {
		return !secondaryJar.MatchString(name)
	}
	return mode&0o111 != 0 && !sharedLib.MatchString(name)
}
