//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// app is a test application: its source files (which also seed the container, the way an image would
// carry the code), the command that runs it and where it serves.
type app struct {
	name  string
	files map[string]string
	dest  string
	port  int
	// command and args are the container's, exactly as a user's Deployment would have them.
	command, args []string
	env           []map[string]any
}

// deploy runs the app in a Deployment of the runtimes image, with dest seeded with the files (see Seed), so
// the app serves its first version before kindling runs.
func (a app) deploy(t *testing.T, ns string, replicas int) string {
	t.Helper()
	a.apply(t, ns, "Deployment", map[string]any{"replicas": replicas})
	WaitRollout(t, ns, a.name)
	return a.name
}

// apply creates the app as a workload of kind (Deployment, StatefulSet, DaemonSet) with spec's fields
// besides the selector and the template, and does not wait for it.
func (a app) apply(t *testing.T, ns, kind string, spec map[string]any) {
	t.Helper()
	container := map[string]any{
		"name": "app", "image": RuntimesImage, "imagePullPolicy": "Never",
		"command": a.command, "args": a.args, "env": a.env,
		"ports":          []any{map[string]any{"containerPort": a.port}},
		"readinessProbe": map[string]any{"tcpSocket": map[string]any{"port": a.port}, "periodSeconds": 1, "failureThreshold": 1},
	}
	podSpec := map[string]any{"terminationGracePeriodSeconds": 5, "containers": []any{container}}
	seed := Seed(podSpec, container, a.name, a.dest, a.files)
	labels := map[string]any{"app": a.name}
	spec["selector"] = map[string]any{"matchLabels": labels}
	spec["template"] = map[string]any{"metadata": map[string]any{"labels": labels}, "spec": podSpec}
	objs := []any{
		seed,
		map[string]any{"apiVersion": "apps/v1", "kind": kind, "metadata": map[string]any{"name": a.name}, "spec": spec},
	}
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		Apply(t, ns, string(b))
	}
}

// source writes the app's files into a new local directory, the --src of the test.
func (a app) source(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	names := make([]string, 0, len(a.files))
	for n := range a.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		WriteLocalFile(t, dir, n, a.files[n], 0o644)
	}
	return dir
}

// edit replaces old with new in the local file, as a developer saving in an editor.
func edit(t *testing.T, src, file, old, new string) {
	t.Helper()
	p := filepath.Join(src, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	WriteLocalFile(t, src, file, strings.Replace(string(b), old, new, 1), 0o644)
}

const pythonServer = `import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("python v1 argv=%r\n" % sys.argv[1:]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
`

const nodeServer = `require('http').createServer((req, res) => res.end('node v1\n')).listen(8080);
`

const rubyServer = `require 'socket'
server = TCPServer.new('0.0.0.0', 8080)
loop do
  c = server.accept
  while (line = c.gets) && line != "\r\n"; end
  body = "ruby v1\n"
  c.write "HTTP/1.1 200 OK\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}"
  c.close
end
`

const perlServer = `use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => 8080, Listen => 10, ReuseAddr => 1) or die "listen: $!";
while (my $c = $s->accept) {
  while (my $l = <$c>) { last if $l eq "\r\n" }
  my $b = "perl v1\n";
  print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($b) . "\r\nConnection: close\r\n\r\n$b";
  close $c;
}
`

const wsgiApp = `def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"gunicorn v1\n"]
`

const asgiApp = `async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"uvicorn v1\n"})
`

const rackApp = `run ->(env) { [200, {"content-type" => "text/plain"}, ["puma v1\n"]] }
`
