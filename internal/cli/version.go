package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version and Commit are empty unless a release build sets them (hack/release):
//
//	-ldflags "-X github.com/kindling-dev/kindling/internal/cli.Version=v0.3.0 -X github.com/kindling-dev/kindling/internal/cli.Commit=413ce36"
//
// They win over the build info because a release is built from a work tree, where the Go toolchain only
// knows a pseudo-version or "(devel)"; `go install …@vX` needs neither, the module version is in the binary.
var (
	Version string
	Commit  string
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kindling's version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			info, _ := debug.ReadBuildInfo()
			fmt.Fprintln(cmd.OutOrStdout(), versionLine(Version, Commit, info, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH))
		},
	}
}

// versionLine says which kindling this is, e.g. "kindling v0.3.0 (commit 413ce36, go1.26.8, linux/amd64)".
// info may be nil (a binary built without module support). The commit is left out when nothing knows it
// (a `go install …@v0.3.0` of a tag: the module zip carries no VCS data, and the tag names the commit).
func versionLine(ldVersion, ldCommit string, info *debug.BuildInfo, goVersion, platform string) string {
	version, commit := ldVersion, ldCommit
	if info != nil {
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		if version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version = info.Main.Version
		}
		if commit == "" {
			commit = vcsCommit(info)
		}
		if commit == "" {
			commit = pseudoVersionCommit(version)
		}
	}
	if version == "" {
		version = "dev"
	}
	var details []string
	if commit != "" {
		details = append(details, "commit "+commit)
	}
	details = append(details, goVersion, platform)
	return fmt.Sprintf("kindling %s (%s)", version, strings.Join(details, ", "))
}

// vcsCommit is the short revision go build stamps when it builds inside a checkout, marked "-dirty" when
// the work tree had uncommitted changes, as git describe --dirty does.
func vcsCommit(info *debug.BuildInfo) string {
	var revision string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return ""
	}
	revision = shortCommit(revision)
	if modified {
		revision += "-dirty"
	}
	return revision
}

// pseudoVersionCommit is the commit a pseudo-version names (`go install …@main` or @<hash> gives one, with
// no VCS data beside it): its last dash-separated field, 12 hex digits, "+incompatible" aside.
func pseudoVersionCommit(version string) string {
	version, _, _ = strings.Cut(version, "+")
	i := strings.LastIndexByte(version, '-')
	if i < 0 {
		return ""
	}
	hash := version[i+1:]
	// The field before the hash is a 14-digit UTC timestamp (yyyymmddhhmmss), possibly after "0." or a dot.
	before := version[:i]
	if len(hash) != 12 || !isHex(hash) || len(before) < 14 || !isDigits(before[len(before)-14:]) {
		return ""
	}
	return shortCommit(hash)
}

// shortCommit abbreviates like git's default, enough to find the commit and short enough to read.
func shortCommit(revision string) string {
	if len(revision) > 7 && isHex(revision) {
		return revision[:7]
	}
	return revision
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
