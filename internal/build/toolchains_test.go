package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kindling-dev/kindling/internal/testenv"
)

// writeTree makes a source directory with the named files; "name=content" sets a file's content.
func writeTree(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		name, content, _ := strings.Cut(f, "=")
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	amd64 = Platform{OS: "linux", Arch: "amd64"}
	arm64 = Platform{OS: "linux", Arch: "arm64"}
)

const helloJava = "package com.example;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(\"hello\");\n    }\n}\n"

func TestDefault(t *testing.T) {
	if Host() != amd64 {
		testenv.Skip(t, "the expectations name amd64 as the native platform")
	}
	tests := []struct {
		name     string
		language string
		files    []string
		platform Platform
		want     Spec // $SRC and $TMP stand for the source and temporary directories
	}{
		{name: "go cross", language: "go", files: []string{"go.mod", "main.go"}, platform: arm64,
			want: Spec{Command: []string{"go", "build", "-o", "$TMP/app", "."},
				Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}, Output: "$TMP/app"}},
		{name: "rust native, package name", language: "rust", platform: amd64,
			files: []string{"Cargo.toml=[package]\nname = \"hello-web\"\nversion = \"0.1.0\"\n", "src/main.rs"},
			want: Spec{Command: []string{"cargo", "build", "--release", "--target", "x86_64-unknown-linux-gnu", "--target-dir", "$SRC/target", "--bin", "hello-web"},
				Env:    []string{"CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=-C target-feature=+crt-static"},
				Output: "$SRC/target/x86_64-unknown-linux-gnu/release/hello-web", Collect: "$TMP/hello-web"}},
		{name: "rust cross, [[bin]] name", language: "rust", platform: arm64,
			files: []string{"Cargo.toml=[package]\nname = \"svc\"\n\n[[bin]]\nname = \"server\"\npath = \"src/main.rs\"\n", "src/main.rs"},
			want: Spec{Command: []string{"cargo", "build", "--release", "--target", "aarch64-unknown-linux-gnu", "--target-dir", "$SRC/target", "--bin", "server"},
				Env: []string{"CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS=-C target-feature=+crt-static",
					"CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc"},
				Output: "$SRC/target/aarch64-unknown-linux-gnu/release/server", Collect: "$TMP/server"}},
		{name: "rust default-run among several", language: "rust", platform: amd64,
			files: []string{"Cargo.toml=[package]\nname = \"svc\"\ndefault-run = \"api\"\n", "src/main.rs", "src/bin/api.rs", "src/bin/tool/main.rs"},
			want: Spec{Command: []string{"cargo", "build", "--release", "--target", "x86_64-unknown-linux-gnu", "--target-dir", "$SRC/target", "--bin", "api"},
				Env:    []string{"CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=-C target-feature=+crt-static"},
				Output: "$SRC/target/x86_64-unknown-linux-gnu/release/api", Collect: "$TMP/api"}},
		{name: "rust only src/bin", language: "rust", platform: amd64,
			files: []string{"Cargo.toml=[package]\nname = \"svc\"\n", "src/lib.rs", "src/bin/worker.rs"},
			want: Spec{Command: []string{"cargo", "build", "--release", "--target", "x86_64-unknown-linux-gnu", "--target-dir", "$SRC/target", "--bin", "worker"},
				Env:    []string{"CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS=-C target-feature=+crt-static"},
				Output: "$SRC/target/x86_64-unknown-linux-gnu/release/worker", Collect: "$TMP/worker"}},
		{name: "java maven", language: "java", files: []string{"pom.xml"}, platform: arm64,
			want: Spec{Command: []string{"mvn", "-q", "-B", "package", "-DskipTests"}, Output: "$SRC/target/*.jar", Collect: "$TMP/app.jar"}},
		{name: "java maven wrapper", language: "java", files: []string{"pom.xml", "mvnw"}, platform: arm64,
			want: Spec{Command: []string{"./mvnw", "-q", "-B", "package", "-DskipTests"}, Output: "$SRC/target/*.jar", Collect: "$TMP/app.jar"}},
		{name: "java gradle", language: "java", files: []string{"build.gradle"}, platform: amd64,
			want: Spec{Command: []string{"gradle", "-q", "assemble"}, Output: "$SRC/build/libs/*.jar", Collect: "$TMP/app.jar"}},
		{name: "kotlin gradle wrapper", language: "kotlin", files: []string{"build.gradle.kts", "gradlew", "src/main/kotlin/App.kt"}, platform: amd64,
			want: Spec{Command: []string{"./gradlew", "-q", "assemble"}, Output: "$SRC/build/libs/*.jar", Collect: "$TMP/app.jar"}},
		{name: "java javac and jar", language: "java", platform: amd64,
			files: []string{"src/com/example/Main.java=" + helloJava, "src/com/example/Util.java=package com.example;\nclass Util {}\n", "target/Gen.java"},
			want: Spec{Command: []string{"sh", "-c", "rm -rf $TMP/classes && javac -d $TMP/classes src/com/example/Main.java src/com/example/Util.java" +
				" && jar --create --file $TMP/app.jar --main-class com.example.Main -C $TMP/classes ."}, Output: "$TMP/app.jar"}},
		{name: "kotlin kotlinc", language: "kotlin", files: []string{"Main.kt", "lib/Util.kt"}, platform: amd64,
			want: Spec{Command: []string{"kotlinc", "Main.kt", "lib/Util.kt", "-include-runtime", "-d", "$TMP/app.jar"}, Output: "$TMP/app.jar"}},
		{name: "dotnet project name", language: "dotnet", files: []string{"Api.csproj=<Project Sdk=\"Microsoft.NET.Sdk.Web\"></Project>", "Program.cs"}, platform: arm64,
			want: Spec{Command: []string{"dotnet", "publish", "Api.csproj", "-c", "Release", "-r", "linux-arm64", "--self-contained", "-p:PublishSingleFile=true", "-o", "$TMP/publish"},
				Output: "$TMP/publish/Api"}},
		{name: "dotnet AssemblyName", language: "dotnet", platform: amd64,
			files: []string{"App.fsproj=<Project><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup><PropertyGroup><AssemblyName>web-api</AssemblyName></PropertyGroup></Project>"},
			want: Spec{Command: []string{"dotnet", "publish", "App.fsproj", "-c", "Release", "-r", "linux-x64", "--self-contained", "-p:PublishSingleFile=true", "-o", "$TMP/publish"},
				Output: "$TMP/publish/web-api"}},
		{name: "c gcc native", language: "c", files: []string{"main.c", "util.c", "util.h", "build/gen.c"}, platform: amd64,
			want: Spec{Command: []string{"gcc", "-O2", "-static", "-o", "$TMP/app", "main.c", "util.c"}, Output: "$TMP/app"}},
		{name: "c gcc cross", language: "c", files: []string{"main.c"}, platform: arm64,
			want: Spec{Command: []string{"aarch64-linux-gnu-gcc", "-O2", "-static", "-o", "$TMP/app", "main.c"}, Output: "$TMP/app"}},
		{name: "c make", language: "c", files: []string{"Makefile", "main.c"}, platform: amd64,
			want: Spec{Command: []string{"make", "CC=gcc"}, Env: []string{"LDFLAGS=-static"}, Output: "$SRC/...", Collect: "$TMP/app"}},
		{name: "c cmake cross", language: "c", files: []string{"CMakeLists.txt", "main.c"}, platform: arm64,
			want: Spec{Command: []string{"sh", "-c", "cmake -S . -B $TMP/cmake -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc" +
				" -DCMAKE_EXE_LINKER_FLAGS=-static && cmake --build $TMP/cmake"}, Output: "$TMP/cmake/...", Collect: "$TMP/app"}},
		{name: "cpp g++", language: "cpp", files: []string{"main.cpp", "src/lib.cc", "README.md"}, platform: amd64,
			want: Spec{Command: []string{"g++", "-O2", "-static", "-o", "$TMP/app", "main.cpp", "src/lib.cc"}, Output: "$TMP/app"}},
		{name: "cpp make cross", language: "cpp", files: []string{"GNUmakefile", "main.cpp"}, platform: arm64,
			want: Spec{Command: []string{"make", "CXX=aarch64-linux-gnu-g++"}, Env: []string{"LDFLAGS=-static"}, Output: "$SRC/...", Collect: "$TMP/app"}},
		{name: "zig build", language: "zig", files: []string{"build.zig", "src/main.zig"}, platform: amd64,
			want: Spec{Command: []string{"zig", "build", "-Dtarget=x86_64-linux-musl", "-Doptimize=ReleaseSafe", "--prefix", "$TMP/zig"},
				Output: "$TMP/zig/bin/*"}},
		{name: "zig build-exe", language: "zig", files: []string{"src/main.zig"}, platform: arm64,
			want: Spec{Command: []string{"zig", "build-exe", "src/main.zig", "-target", "aarch64-linux-musl", "-O", "ReleaseSafe", "-femit-bin=$TMP/app"},
				Output: "$TMP/app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := writeTree(t, tt.files...)
			tmp := filepath.Join(t.TempDir(), "session")
			got, err := Default(tt.language, src, tt.platform, tmp)
			if err != nil {
				t.Fatal(err)
			}
			want := expand(tt.want, src, tmp)
			want.Language, want.Dir = tt.language, src
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Default:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// expand replaces $SRC and $TMP in a Spec.
func expand(s Spec, src, tmp string) Spec {
	r := strings.NewReplacer("$SRC", src, "$TMP", tmp)
	each := func(list []string) []string {
		if list == nil {
			return nil
		}
		out := make([]string, len(list))
		for i, v := range list {
			out[i] = r.Replace(v)
		}
		return out
	}
	s.Command, s.Env = each(s.Command), each(s.Env)
	s.Output, s.Collect = r.Replace(s.Output), r.Replace(s.Collect)
	return s
}

func TestDefaultErrors(t *testing.T) {
	tests := []struct {
		name     string
		language string
		files    []string
		platform Platform
		want     string
	}{
		{"unknown language", "cobol", nil, amd64, `no default build for language "cobol": kindling builds c, cpp, dotnet, go, java, kotlin, rust, zig`},
		{"windows node", "rust", []string{"Cargo.toml=[package]\nname = \"x\"\n", "src/main.rs"}, Platform{OS: "windows", Arch: "amd64"},
			"rust build: no toolchain target for windows/amd64 (kindling knows linux/386, linux/amd64"},
		{"unknown arch", "zig", []string{"main.zig"}, Platform{OS: "linux", Arch: "mips"}, "no toolchain target for linux/mips"},
		{"cargo workspace", "rust", []string{"Cargo.toml=[workspace]\nmembers = [\"a\"]\n"}, amd64, "has no [package] (a workspace?)"},
		{"cargo several binaries", "rust", []string{"Cargo.toml=[package]\nname = \"x\"\n", "src/main.rs", "src/bin/y.rs"}, amd64,
			"builds several binaries (x, y) and sets no default-run"},
		{"cargo bad toml", "rust", []string{"Cargo.toml=[package\n"}, amd64, "reading Cargo.toml"},
		{"two dotnet projects", "dotnet", []string{"A.csproj", "B.csproj"}, amd64, "want one project file in"},
		{"dotnet on 386", "dotnet", []string{"A.csproj"}, Platform{OS: "linux", Arch: "386"}, ".NET has no runtime identifier for linux/386"},
		{"java without main", "java", []string{"Lib.java=class Lib {}"}, amd64, "no class in"},
		{"java with two mains", "java", []string{"Main.java=" + helloJava, "B.java=" + strings.ReplaceAll(helloJava, "Main", "B")}, amd64,
			"several classes have a main method (com.example.B, com.example.Main)"},
		{"c without sources", "c", []string{"README.md"}, amd64, "no .c files in"},
		{"zig without main", "zig", []string{"lib.zig"}, amd64, "neither build.zig nor main.zig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Default(tt.language, writeTree(t, tt.files...), tt.platform, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestCustom(t *testing.T) {
	got := Custom("CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o ./bin/gw .", "./bin/gw", "/src")
	want := Spec{Command: []string{"sh", "-c", "CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o ./bin/gw ."}, Dir: "/src", Output: "/src/bin/gw"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Custom = %#v, want %#v", got, want)
	}
	if got := Custom("make", "/abs/out", "/src").Output; got != "/abs/out" {
		t.Errorf("absolute --build-output = %q, want it kept", got)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/x": "/tmp/x", "a b": "'a b'", "it's": `'it'\''s'`, "": "''", "$HOME": "'$HOME'",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestUsesFile(t *testing.T) {
	tests := []struct {
		language, rel string
		want          bool
	}{
		{"go", "main.go", true},
		{"go", "go.mod", true},
		{"go", "go.sum", true},
		{"go", "static/index.html", true}, // may be embedded
		{"go", "templates/page.tmpl", true},
		{"go", "changes.go", true},
		{"go", "license.go", true},
		{"go", "main_test.go", false},
		{"go", "internal/x/x_test.go", false},
		{"go", "README.md", false},
		{"go", "README", false},
		{"go", "LICENSE", false},
		{"go", "LICENSE-MIT", false},
		{"go", "CHANGELOG.txt", false},
		{"go", "pkg/notes.md", false},
		{"go", "docs/api.html", false},
		{"go", "./docs/x.go", false},
		{"go", ".gitignore", false},
		{"go", ".github/workflows/ci.yml", false},
		{"rust", "src/main.rs", true},
		{"rust", "Cargo.lock", true},
		{"rust", "tests/it.rs", false},
		{"rust", "examples/demo.rs", false},
		{"rust", "src/tests/unit.rs", true},
		{"java", "src/main/java/App.java", true},
		{"java", "src/main/resources/application.yml", true},
		{"java", "src/test/java/AppTest.java", false},
		{"kotlin", "src/test/kotlin/AppTest.kt", false},
		{"c", "main.c", true},
		{"c", "CMakeLists.txt", true},
		{"c", "main_test.go", true},
		{"zig", "build.zig.zon", true},
		{"dotnet", "Program.cs", true},
		{"dotnet", "appsettings.json", true},
		{"", "anything.bin", true},
	}
	for _, tt := range tests {
		if got := UsesFile(tt.language, tt.rel); got != tt.want {
			t.Errorf("UsesFile(%q, %q) = %v, want %v", tt.language, tt.rel, got, tt.want)
		}
	}
}
