//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestSmoke proves the chain the whole suite relies on: a Deployment from the runtimes image rolls out, exec
// works, a file copied in through client-go exec (tar on stdin, and cat on stdin) is served back over HTTP
// through a port-forward to 127.0.0.1, and ReadTree sees exactly what was copied.
func TestSmoke(t *testing.T) {
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment("web", RuntimesImage, "/srv", 8080,
		"python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"))
	pod := Pod(t, ns, deploy)

	if out := MustExec(t, ns, pod, "app", "sh", "-c", "echo hello from $(cat /etc/debian_version)"); !strings.HasPrefix(out, "hello from 12") {
		t.Fatalf("exec: unexpected output %q", out)
	}

	// A local tree with awkward names, copied in with tar over exec stdin.
	local := t.TempDir()
	WriteLocalFile(t, local, "index.html", "<h1>kindling smoke</h1>\n", 0o644)
	WriteLocalFile(t, local, "sub dir/ünï'cödé \"q\".txt", "unicode\n", 0o600)
	WriteLocalFile(t, local, "sub dir/new\nline", "newline in name\n", 0o755)
	LocalSymlink(t, local, "link-to-index", "index.html")
	CopyToPod(t, ns, pod, "app", local, "/srv/site")

	// A second file with cat over exec stdin.
	WriteFile(t, ns, pod, "app", "/srv/site/hello.txt", "hello over exec\n")
	WriteLocalFile(t, local, "hello.txt", "hello over exec\n", 0o644)

	status, body, err := HTTPGet(t, ns, pod, 8080, "/site/hello.txt")
	if err != nil || status != 200 || body != "hello over exec\n" {
		t.Fatalf("GET /site/hello.txt: status %d body %q err %v", status, body, err)
	}
	status, body, err = HTTPGet(t, ns, pod, 8080, "/site/index.html")
	if err != nil || status != 200 || body != "<h1>kindling smoke</h1>\n" {
		t.Fatalf("GET /site/index.html: status %d body %q err %v", status, body, err)
	}
	WaitHTTPBody(t, ns, deploy, 8080, "/site/link-to-index", "kindling smoke", DefaultTimeout)

	remote := ReadTree(t, ns, pod, "app", "/srv/site")
	want := LocalTree(t, local, nil)
	if d := DiffTrees(want, remote); d != "" {
		t.Fatalf("trees differ: %s\nlocal:  %v\nremote: %v", d, want, remote)
	}
	if len(remote) != 6 { // index.html, sub dir, 2 files in it, link, hello.txt
		t.Fatalf("ReadTree: %d entries, want 6: %v", len(remote), remote)
	}

	// A loop of requests over one port-forward.
	lp, stop := PortForward(t, ns, pod, 8080)
	for i := 0; i < 5; i++ {
		if status, _, err := HTTPGetLocal(t.Context(), lp, "/site/hello.txt"); err != nil || status != 200 {
			t.Fatalf("request %d over the port-forward: %d %v", i, status, err)
		}
	}
	stop()
}
