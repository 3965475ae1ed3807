"""A tiny HTTP server for the kindling demo: GET / answers with greeting.MESSAGE (read at start-up)."""
import http.server
import os
import socket

from greeting import MESSAGE

PORT = int(os.environ.get("PORT", "8080"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok\n"
        else:
            body = f"{MESSAGE} (pod {socket.gethostname()}, pid {os.getpid()})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    print(f"hello-python listening on :{PORT}", flush=True)
    http.server.ThreadingHTTPServer(("", PORT), Handler).serve_forever()
