package runtime

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite docs/runtimes.md from the table")

// e2eTested names the runtimes an end-to-end test on a real cluster proves (test/e2e), and how.
var e2eTested = map[string]string{
	"node": "wrapper", "python": "wrapper", "ruby": "wrapper", "perl": "wrapper",
	"uvicorn": "single process → wrapper; --workers 2 → HUP not honoured by Debian's uvicorn 0.17, verified and switched to the wrapper", "gunicorn": "HUP, master kept, no failed request",
	"puma": "single mode USR2, master kept, at most one request dropped at the re-exec (puma/puma#2337)", "nginx": "HUP, master kept, no failed request",
	"httpd": "USR1, master kept, no failed request", "php": "mod_php, no restart", "nodemon": "no restart",
	"go": "build + binary sync, failing build keeps the old binary", "c": "gcc build", "rust": "cargo build",
	"java": "javac + jar build",
}

// TestRuntimeDocIsCurrent keeps docs/runtimes.md equal to the table (go test ./internal/runtime -update-doc).
func TestRuntimeDocIsCurrent(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Runtimes, strategies and signals\n\n")
	b.WriteString("Generated from `internal/runtime/table.go` by `go test ./internal/runtime -update-doc`; a test fails when it is stale.\n")
	b.WriteString("`--language` accepts the name or any alias. The e2e column says what `test/e2e` proves on a real cluster.\n\n")
	b.WriteString("| runtime | --language (aliases) | strategy | signal | when it runs as a single process | why | e2e |\n|---|---|---|---|---|---|---|\n")
	for _, r := range table {
		names := r.Name
		if len(r.Aliases) > 0 {
			names += " (" + strings.Join(r.Aliases, ", ") + ")"
		}
		single := ""
		if r.single != nil {
			single = string(r.single.Strategy) + " " + r.single.Signal
		}
		tested := e2eTested[r.Name]
		if tested == "" {
			tested = "unit tests only"
		}
		b.WriteString("| " + strings.Join([]string{r.Display, names, string(r.Strategy), r.Signal, strings.TrimSpace(single), r.Why, tested}, " | ") + " |\n")
	}
	b.WriteString("\nNotes\n\n- PHP: " + opcacheNote + ".\n")
	b.WriteString("- .NET and Zig toolchains are not installable on the development machine: their build commands are unit-tested only.\n")
	const path = "../../docs/runtimes.md"
	if *updateDoc {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != b.String() {
		t.Fatalf("docs/runtimes.md is stale: run go test ./internal/runtime -update-doc")
	}
}
