package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := func(revision, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: revision}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "413ce36c0ffee0123456789abcdef0123456789a"
	cases := []struct {
		name              string
		ldVersion, commit string
		info              *debug.BuildInfo
		want              string
	}{
		{
			name: "go install of a tag: the module version, no VCS data",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/kindling-dev/kindling", Version: "v0.3.0"}},
			want: "kindling v0.3.0 (go1.26.8, linux/amd64)",
		},
		{
			name: "go install of a branch: the pseudo-version names the commit",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1-0.20260101120000-413ce36c0ffe"}},
			want: "kindling v0.3.1-0.20260101120000-413ce36c0ffe (commit 413ce36, go1.26.8, linux/amd64)",
		},
		{
			name: "pseudo-version without a tag before it",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260101120000-413ce36c0ffe+incompatible"}},
			want: "kindling v0.0.0-20260101120000-413ce36c0ffe+incompatible (commit 413ce36, go1.26.8, linux/amd64)",
		},
		{
			name: "a prerelease tag is no pseudo-version",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0-rc-1"}},
			want: "kindling v0.3.0-rc-1 (go1.26.8, linux/amd64)",
		},
		{
			name: "go build in a checkout: (devel) and the VCS stamp",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")},
			want: "kindling dev (commit 413ce36, go1.26.8, linux/amd64)",
		},
		{
			name: "go build in a checkout with uncommitted changes",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1-0.20260101120000-413ce36c0ffe+dirty"}, Settings: vcs(rev, "true")},
			want: "kindling v0.3.1-0.20260101120000-413ce36c0ffe+dirty (commit 413ce36-dirty, go1.26.8, linux/amd64)",
		},
		{
			name:      "release build: ldflags win over the build info",
			ldVersion: "v0.3.0", commit: "413ce36",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("ffffffffffffffffffffffffffffffffffffffff", "true")},
			want: "kindling v0.3.0 (commit 413ce36, go1.26.8, linux/amd64)",
		},
		{
			name:      "release build given only a version: the commit from the VCS stamp",
			ldVersion: "v0.3.0-2-g413ce36",
			info:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")},
			want:      "kindling v0.3.0-2-g413ce36 (commit 413ce36, go1.26.8, linux/amd64)",
		},
		{
			name: "no build info at all",
			want: "kindling dev (go1.26.0, linux/amd64)",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := versionLine(c.ldVersion, c.commit, c.info, "go1.26.0", "linux/amd64")
			if got != c.want {
				t.Errorf("versionLine() = %q, want %q", got, c.want)
			}
		})
	}
}
