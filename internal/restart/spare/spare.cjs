// kindling's spare Node.js. The restart supervisor starts it ahead of a restart as
//   node [options] spare.cjs SCRIPT [ARGS...]
// with KINDLING_SPARE_FD naming a FIFO it holds. It loads Node.js and the built-in modules an HTTP app uses,
// then blocks until the supervisor writes one byte there: the restart. It then runs SCRIPT as the main
// module, as `node [options] SCRIPT [ARGS...]` would, without paying for the start-up again. Before it
// waits it creates the file KINDLING_SPARE_READY: a spare that exits without it never ran the app.
"use strict";
const fs = require("fs");
const path = require("path");

const fd = Number(process.env.KINDLING_SPARE_FD);
const ready = process.env.KINDLING_SPARE_READY;
delete process.env.KINDLING_SPARE_FD;
delete process.env.KINDLING_SPARE_READY;
// Preloads from NODE_OPTIONS would already have run with the files as they were: such a spare would not
// be a fresh start. Exiting tells the supervisor to start the app cold.
if (!Number.isInteger(fd) || /(^|\s)(-r|--require|--import|--loader|--experimental-loader|--inspect[-=\w]*)(\s|=|$)/.test(process.env.NODE_OPTIONS || "")) {
  process.exit(3);
}

// The modules an HTTP server loads: more would make each spare's start-up, which competes with the app
// when saves come in quick succession, cost more than it saves (Debian's Node.js compiles them at run time).
for (const m of ["http", "net", "stream", "events", "util", "url", "querystring", "string_decoder", "timers",
  "buffer", "os", "crypto"]) {
  try {
    require(m);
  } catch {
    // An older Node.js without it: the app cannot use it either.
  }
}

// One request to a server on a loopback port the kernel picks, then closed: Node.js compiles its listening
// and request paths on first use, which would otherwise fall into the restart and the app's first answer
// (~10 ms on an idle node for Debian's Node.js, more under load).
const http = require("http");
const warm = http.createServer((req, res) => res.end());
let waiting = false;
warm.on("error", takeOver);
warm.listen(0, "127.0.0.1", () => {
  const done = () => {
    warm.close(takeOver);
    warm.closeAllConnections?.();
  };
  http.get({ host: "127.0.0.1", port: warm.address().port, agent: false }, (res) => {
    res.resume();
    res.on("end", done);
  }).on("error", done);
});

// takeOver waits for the restart, then runs the app.
function takeOver() {
  if (waiting) return;
  waiting = true;
  if (ready) fs.writeFileSync(ready, "");
  const one = Buffer.alloc(1);
  for (;;) {
    try {
      if (fs.readSync(fd, one, 0, 1, null) === 1) break;
    } catch (e) {
      if (e.code !== "EAGAIN" && e.code !== "EINTR") throw e;
    }
  }
  fs.closeSync(fd);
  process.argv.splice(1, 1);
  process.argv[1] = path.resolve(process.argv[1]);
  require("module").runMain();
}
