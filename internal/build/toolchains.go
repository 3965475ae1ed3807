package build

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// toolchains derive a language's default build for a platform, writing under tmp.
var toolchains = map[string]func(src string, p Platform, tmp string) (Spec, error){
	"go":     goBuild,
	"rust":   rustBuild,
	"java":   func(src string, _ Platform, tmp string) (Spec, error) { return jvmBuild(src, tmp, false) },
	"kotlin": func(src string, _ Platform, tmp string) (Spec, error) { return jvmBuild(src, tmp, true) },
	"dotnet": dotnetBuild,
	"c":      func(src string, p Platform, tmp string) (Spec, error) { return cBuild(src, p, tmp, cLang) },
	"cpp":    func(src string, p Platform, tmp string) (Spec, error) { return cBuild(src, p, tmp, cppLang) },
	"zig":    zigBuild,
}

// archNames are one architecture's names in each toolchain.
type archNames struct {
	rust   string // Rust target triple (glibc)
	dotnet string // .NET runtime identifier; empty where .NET has none
	zig    string // Zig target (musl: static, runs in any image)
	gnu    string // GNU triple, the prefix of Debian's cross compilers (aarch64-linux-gnu-gcc)
}

// arches maps Kubernetes' (Go's) architecture names to the toolchains' names.
var arches = map[string]archNames{
	"amd64":   {rust: "x86_64-unknown-linux-gnu", dotnet: "linux-x64", zig: "x86_64-linux-musl", gnu: "x86_64-linux-gnu"},
	"arm64":   {rust: "aarch64-unknown-linux-gnu", dotnet: "linux-arm64", zig: "aarch64-linux-musl", gnu: "aarch64-linux-gnu"},
	"arm":     {rust: "armv7-unknown-linux-gnueabihf", dotnet: "linux-arm", zig: "arm-linux-musleabihf", gnu: "arm-linux-gnueabihf"},
	"386":     {rust: "i686-unknown-linux-gnu", zig: "x86-linux-musl", gnu: "i686-linux-gnu"},
	"ppc64le": {rust: "powerpc64le-unknown-linux-gnu", dotnet: "linux-ppc64le", zig: "powerpc64le-linux-musl", gnu: "powerpc64le-linux-gnu"},
	"s390x":   {rust: "s390x-unknown-linux-gnu", dotnet: "linux-s390x", zig: "s390x-linux-musl", gnu: "s390x-linux-gnu"},
	"riscv64": {rust: "riscv64gc-unknown-linux-gnu", dotnet: "linux-riscv64", zig: "riscv64-linux-musl", gnu: "riscv64-linux-gnu"},
}

// names returns the platform's toolchain names; only Linux nodes have them.
func (p Platform) names() (archNames, error) {
	n, ok := arches[p.Arch]
	if p.OS != "linux" || !ok {
		known := make([]string, 0, len(arches))
		for a := range arches {
			known = append(known, "linux/"+a)
		}
		sort.Strings(known)
		return archNames{}, fmt.Errorf("no toolchain target for %s (kindling knows %s)", p, strings.Join(known, ", "))
	}
	return n, nil
}

// goBuild: a static binary (CGO_ENABLED=0), cross-compiled by setting GOOS and GOARCH.
func goBuild(src string, p Platform, tmp string) (Spec, error) {
	out := filepath.Join(tmp, "app")
	return Spec{
		Command: []string{"go", "build", "-o", out, "."},
		Env:     []string{"CGO_ENABLED=0", "GOOS=" + p.OS, "GOARCH=" + p.Arch},
		Output:  out,
	}, nil
}

// rustBuild: cargo for the node's target triple, glibc linked statically (crt-static) so the binary runs
// in any image, including one without glibc; cross targets link with Debian's cross gcc. The target
// directory is named so that the artifact's path does not depend on the user's cargo configuration.
func rustBuild(src string, p Platform, tmp string) (Spec, error) {
	n, err := p.names()
	if err != nil {
		return Spec{}, err
	}
	bin, err := cargoBinary(src)
	if err != nil {
		return Spec{}, err
	}
	targetDir := filepath.Join(src, "target")
	env := "CARGO_TARGET_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(n.rust))
	spec := Spec{
		Command: []string{"cargo", "build", "--release", "--target", n.rust, "--target-dir", targetDir, "--bin", bin},
		Env:     []string{env + "_RUSTFLAGS=-C target-feature=+crt-static"},
		Output:  filepath.Join(targetDir, n.rust, "release", bin),
		Collect: filepath.Join(tmp, bin),
	}
	if p != Host() {
		spec.Env = append(spec.Env, env+"_LINKER="+n.gnu+"-gcc")
	}
	return spec, nil
}

// jvmBuild: maven or gradle when the project has their build file (preferring its wrapper script), else
// javac and jar, or kotlinc, over the sources. JVM bytecode needs no target platform.
func jvmBuild(src, tmp string, kotlin bool) (Spec, error) {
	jar := filepath.Join(tmp, "app.jar")
	switch {
	case exists(filepath.Join(src, "pom.xml")):
		return Spec{
			Command: []string{wrapperOr(src, "mvnw", "mvn"), "-q", "-B", "package", "-DskipTests"},
			Output:  filepath.Join(src, "target", "*.jar"),
			Collect: jar,
		}, nil
	case len(namesOf(src, "build.gradle", "build.gradle.kts")) > 0:
		return Spec{
			Command: []string{wrapperOr(src, "gradlew", "gradle"), "-q", "assemble"},
			Output:  filepath.Join(src, "build", "libs", "*.jar"),
			Collect: jar,
		}, nil
	case kotlin:
		files, err := sources(src, ".kt")
		if err != nil {
			return Spec{}, err
		}
		return Spec{
			Command: append(append([]string{"kotlinc"}, files...), "-include-runtime", "-d", jar),
			Output:  jar,
		}, nil
	}
	files, err := sources(src, ".java")
	if err != nil {
		return Spec{}, err
	}
	main, err := javaMainClass(src, files)
	if err != nil {
		return Spec{}, err
	}
	classes := filepath.Join(tmp, "classes")
	// Stale classes of deleted sources must not end up in the jar, so the class directory starts empty.
	line := "rm -rf " + quote(classes) + " && javac -d " + quote(classes) + " " + quoteAll(files) +
		" && jar --create --file " + quote(jar) + " --main-class " + quote(main) + " -C " + quote(classes) + " ."
	return Spec{Command: []string{"sh", "-c", line}, Output: jar}, nil
}

// wrapperOr returns the project's build wrapper script (./mvnw, ./gradlew) when it has one.
func wrapperOr(src, wrapper, tool string) string {
	if exists(filepath.Join(src, wrapper)) {
		return "./" + wrapper
	}
	return tool
}

// javaMainClass finds the one class with a main method, named with its package.
func javaMainClass(src string, files []string) (string, error) {
	var mains []string
	for _, f := range files {
		pkg, hasMain, err := scanJava(filepath.Join(src, f))
		if err != nil {
			return "", err
		}
		if hasMain {
			class := strings.TrimSuffix(filepath.Base(f), ".java")
			if pkg != "" {
				class = pkg + "." + class
			}
			mains = append(mains, class)
		}
	}
	switch len(mains) {
	case 1:
		return mains[0], nil
	case 0:
		return "", fmt.Errorf("no class in %s has a main method; pass --build-cmd and --build-output", src)
	}
	return "", fmt.Errorf("several classes have a main method (%s); pass --build-cmd and --build-output", strings.Join(mains, ", "))
}

// scanJava reads a Java file's package and whether it declares a main method.
func scanJava(path string) (pkg string, hasMain bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "package "); ok && pkg == "" {
			pkg = strings.TrimSpace(strings.TrimSuffix(rest, ";"))
		}
		if strings.Contains(line, "static void main(") {
			hasMain = true
		}
	}
	return pkg, hasMain, sc.Err()
}

// dotnetBuild: a self-contained single-file executable for the node's runtime identifier, so the image
// needs no .NET runtime.
func dotnetBuild(src string, p Platform, tmp string) (Spec, error) {
	n, err := p.names()
	if err != nil {
		return Spec{}, err
	}
	if n.dotnet == "" {
		return Spec{}, fmt.Errorf(".NET has no runtime identifier for %s", p)
	}
	projects := namesOf(src, "*.csproj", "*.fsproj", "*.vbproj")
	if len(projects) != 1 {
		return Spec{}, fmt.Errorf("want one project file in %s, found %d (%s); pass --build-cmd and --build-output",
			src, len(projects), strings.Join(projects, ", "))
	}
	name, err := assemblyName(filepath.Join(src, projects[0]))
	if err != nil {
		return Spec{}, err
	}
	out := filepath.Join(tmp, "publish")
	return Spec{
		Command: []string{"dotnet", "publish", projects[0], "-c", "Release", "-r", n.dotnet, "--self-contained",
			"-p:PublishSingleFile=true", "-o", out},
		Output: filepath.Join(out, name),
	}, nil
}

// assemblyName is the executable a project publishes: its AssemblyName property, else the project
// file's name.
func assemblyName(project string) (string, error) {
	data, err := os.ReadFile(project)
	if err != nil {
		return "", err
	}
	var proj struct {
		Groups []struct {
			AssemblyName string `xml:"AssemblyName"`
		} `xml:"PropertyGroup"`
	}
	if err := xml.Unmarshal(data, &proj); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Base(project), err)
	}
	for _, g := range proj.Groups {
		if name := strings.TrimSpace(g.AssemblyName); name != "" {
			return name, nil
		}
	}
	return strings.TrimSuffix(filepath.Base(project), filepath.Ext(project)), nil
}

// cLanguage is what differs between the C and C++ builds.
type cLanguage struct {
	compiler string   // gcc, g++: prefixed with the GNU triple for a cross build
	makeVar  string   // the make variable naming that compiler
	cmakeVar string   // the CMake cache variable naming it
	exts     []string // source extensions
}

var (
	cLang   = cLanguage{compiler: "gcc", makeVar: "CC", cmakeVar: "CMAKE_C_COMPILER", exts: []string{".c"}}
	cppLang = cLanguage{compiler: "g++", makeVar: "CXX", cmakeVar: "CMAKE_CXX_COMPILER", exts: []string{".cpp", ".cc", ".cxx"}}
)

// cBuild: the project's Makefile, else CMake, else the compiler over the sources, linked statically so
// the program runs in any image. A cross build uses Debian's cross compiler (aarch64-linux-gnu-gcc).
func cBuild(src string, p Platform, tmp string, lang cLanguage) (Spec, error) {
	n, err := p.names()
	if err != nil {
		return Spec{}, err
	}
	cc := lang.compiler
	if p != Host() {
		cc = n.gnu + "-" + cc
	}
	app := filepath.Join(tmp, "app")
	switch {
	case len(namesOf(src, "Makefile", "makefile", "GNUmakefile")) > 0:
		// The Makefile names its own targets: the artifact is the newest executable the build wrote.
		return Spec{
			Command: []string{"make", lang.makeVar + "=" + cc},
			Env:     []string{"LDFLAGS=-static"},
			Output:  filepath.Join(src, treeSuffix),
			Collect: app,
		}, nil
	case exists(filepath.Join(src, "CMakeLists.txt")):
		dir := filepath.Join(tmp, "cmake")
		line := "cmake -S . -B " + quote(dir) + " -DCMAKE_BUILD_TYPE=Release -D" + lang.cmakeVar + "=" + quote(cc) +
			" -DCMAKE_EXE_LINKER_FLAGS=-static && cmake --build " + quote(dir)
		return Spec{Command: []string{"sh", "-c", line}, Output: filepath.Join(dir, treeSuffix), Collect: app}, nil
	}
	files, err := sources(src, lang.exts...)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Command: append([]string{cc, "-O2", "-static", "-o", app}, files...), Output: app}, nil
}

// zigBuild: `zig build` when there is a build.zig, else build-exe of main.zig, for a musl target
// (static, runs in any image).
func zigBuild(src string, p Platform, tmp string) (Spec, error) {
	n, err := p.names()
	if err != nil {
		return Spec{}, err
	}
	if exists(filepath.Join(src, "build.zig")) {
		prefix := filepath.Join(tmp, "zig")
		return Spec{
			Command: []string{"zig", "build", "-Dtarget=" + n.zig, "-Doptimize=ReleaseSafe", "--prefix", prefix},
			Output:  filepath.Join(prefix, "bin", "*"),
		}, nil
	}
	main := ""
	for _, m := range []string{"main.zig", filepath.Join("src", "main.zig")} {
		if exists(filepath.Join(src, m)) {
			main = m
			break
		}
	}
	if main == "" {
		return Spec{}, fmt.Errorf("%s has neither build.zig nor main.zig; pass --build-cmd and --build-output", src)
	}
	app := filepath.Join(tmp, "app")
	return Spec{
		Command: []string{"zig", "build-exe", main, "-target", n.zig, "-O", "ReleaseSafe", "-femit-bin=" + app},
		Output:  app,
	}, nil
}

// sources lists the source files with the given extensions under src, relative to it and sorted,
// leaving out hidden directories and other tools' build and dependency directories.
func sources(src string, exts ...string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && p != src && (strings.HasPrefix(e.Name(), ".") || slices.Contains(buildDirs, e.Name())) {
			return filepath.SkipDir
		}
		if !e.IsDir() && slices.Contains(exts, strings.ToLower(filepath.Ext(p))) {
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no %s files in %s; pass --build-cmd and --build-output", strings.Join(exts, "/"), src)
	}
	return files, nil
}

// buildDirs hold build output or dependencies, never sources of the app.
var buildDirs = []string{"target", "build", "out", "bin", "obj", "node_modules", "vendor"}

// quote makes s one word for a POSIX shell: single quotes keep every byte literally.
func quote(s string) string {
	if safeWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var safeWord = regexp.MustCompile(`^[A-Za-z0-9_./:@%+-]+$`)

func quoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quote(w)
	}
	return strings.Join(q, " ")
}
