//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// goApp is a Go web server whose container waits for its binary: kindling builds it locally and syncs it.
var goApp = app{name: "goapp", dest: "/app", port: 8080,
	files: map[string]string{
		"go.mod":    "module example.com/goapp\n\ngo 1.21\n",
		"main.go":   "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nfunc main() {\n\thttp.HandleFunc(\"/\", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, \"go v1\") })\n\tpanic(http.ListenAndServe(\":8080\", nil))\n}\n",
		"README.md": "not part of the build\n",
	},
	command: waitForFile("/app/app", "/app/app"),
}

// TestGoBuildSyncsTheBinary: kindling cross-compiles the Go app locally, syncs only the binary, restarts
// it; a failing build keeps the old binary serving; a README change does not restart the app.
func TestGoBuildSyncsTheBinary(t *testing.T) {
	ns := Namespace(t)
	// No readiness probe: the app only starts once its first build has landed.
	deploy := DeployApp(t, ns, SimpleDeployment(goApp.name, RuntimesImage, "/", 0, goApp.command...))
	src := goApp.source(t)
	p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--language", "go", "--debounce", "100ms")
	waitOutput(t, p, "watching")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v1", DefaultTimeout)
	pod := Pod(t, ns, deploy)
	if tree := ReadTree(t, ns, pod, "app", "/app"); len(tree) != 1 || !strings.HasPrefix(tree["app"], "file:755:") {
		t.Fatalf("the container holds more than the built binary: %v", tree)
	}

	edit(t, src, "main.go", "go v1", "go v2")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v2", 2*time.Minute)

	// A broken build: its error is shown, the old binary keeps serving.
	edit(t, src, "main.go", "fmt.Fprintln(w", "fmt.Fprintln(undefinedWriter")
	waitOutput(t, p, "undefined: undefinedWriter")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v2", 10*time.Second)
	edit(t, src, "main.go", "fmt.Fprintln(undefinedWriter", "fmt.Fprintln(w")
	edit(t, src, "main.go", "go v2", "go v3")
	WaitHTTPBody(t, ns, deploy, 8080, "/", "go v3", 2*time.Minute)

	// A file the build does not use: no rebuild, no restart. (The app may serve v3 before kindling prints the
	// restart that made it: count once the initial sync, v2 and v3 are all printed.)
	Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		if n := strings.Count(p.Output(), "restarted"); n < 3 {
			return fmt.Errorf("%d restarts printed, want 3:\n%s", n, p.Output())
		}
		return nil
	})
	before := strings.Count(p.Output(), "restarted")
	edit(t, src, "README.md", "not part", "still not part")
	time.Sleep(2 * time.Second)
	if after := strings.Count(p.Output(), "restarted"); after != before {
		t.Fatalf("a README edit restarted the app:\n%s", p.Output())
	}
}

// TestBareImageWithoutRestartIsRefusedClearly: without --restart, an image with no shell and no tar
// (distroless, scratch) is refused up front, before anything in the cluster changes, with one line saying
// what makes it work.
func TestBareImageWithoutRestartIsRefusedClearly(t *testing.T) {
	ns := Namespace(t)
	deploy := DeployApp(t, ns, SimpleDeployment("bare", BareImage, "/", 0, "/idle"))
	before := templateJSON(t, ns, deploy)
	src := t.TempDir()
	WriteLocalFile(t, src, "main.go", "package main\n", 0o644)
	out, err := KindlingCmd(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--once").CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		t.Fatalf("kindling synced into an image without a shell, without --restart:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{"has no sh", "--restart", "--helper-image"} {
		if !strings.Contains(last, want) {
			t.Errorf("the refusal %q does not mention %q", last, want)
		}
	}
	if templateJSON(t, ns, deploy) != before {
		t.Fatal("the Deployment was changed before the refusal")
	}
}

// compiledApps are served by a binary (or jar) that kindling builds locally and syncs; each container
// waits for its artifact, as a fresh image without the app would.
var compiledApps = []struct {
	app
	language, artifact, edit string
}{
	{app: app{name: "capp", files: map[string]string{"server.c": cServer},
		command: waitForFile("/app/app", "/app/app")}, language: "c", edit: "server.c"},
	{app: app{name: "rustapp", files: map[string]string{"Cargo.toml": cargoToml, "src/main.rs": rustServer},
		command: waitForFile("/app/rustapp", "/app/rustapp")}, language: "rust", edit: "src/main.rs"},
	{app: app{name: "javaapp", files: map[string]string{"Server.java": javaServer},
		command: waitForFile("/app/app.jar", "java", "-jar", "/app/app.jar")}, language: "java", edit: "Server.java"},
}

// waitForFile is a container command that waits for file, then runs argv.
func waitForFile(file string, argv ...string) []string {
	return append([]string{"sh", "-c", `while [ ! -f "$0" ]; do sleep 0.2; done; exec "$@"`, file}, argv...)
}

// TestCompiledLanguagesSyncTheArtifact: C (gcc), Rust (cargo) and Java (javac + jar) are built locally,
// the artifact synced and the app restarted; the HTTP response shows each edit.
func TestCompiledLanguagesSyncTheArtifact(t *testing.T) {
	for _, tc := range compiledApps {
		t.Run(tc.language, func(t *testing.T) {
			ns := Namespace(t)
			deploy := DeployApp(t, ns, SimpleDeployment(tc.name, RuntimesImage, "/", 0, tc.command...))
			src := tc.source(t)
			p := startKindling(t, "sync", "-d", deploy, "-n", ns, "--src", src, "--restart", "--language", tc.language, "--debounce", "100ms")
			waitOutput(t, p, "watching")
			WaitHTTPBody(t, ns, deploy, 8080, "/", tc.language+" v1", DefaultTimeout)
			edit(t, src, tc.edit, "v1", "v2")
			WaitHTTPBody(t, ns, deploy, 8080, "/", tc.language+" v2", 3*time.Minute)
			p.Stop(t, syscall.SIGINT)
		})
	}
}

const cServer = `#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) { perror("listen"); return 1; }
	const char *body = "c v1\n";
	char resp[256], req[4096];
	snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(body), body);
	for (;;) {
		int c = accept(s, 0, 0);
		if (c < 0) continue;
		read(c, req, sizeof req);
		write(c, resp, strlen(resp));
		close(c);
	}
}
`

const cargoToml = `[package]
name = "rustapp"
version = "0.1.0"
edition = "2021"
`

const rustServer = `use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let listener = TcpListener::bind("0.0.0.0:8080").unwrap();
    for stream in listener.incoming() {
        let mut s = match stream { Ok(s) => s, Err(_) => continue };
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let body = "rust v1\n";
        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), body);
    }
}
`

const javaServer = `import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;

public class Server {
    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(8080), 0);
        server.createContext("/", exchange -> {
            byte[] body = "java v1\n".getBytes();
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }
}
`
