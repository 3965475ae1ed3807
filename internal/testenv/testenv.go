// Package testenv lets a test step aside where this machine cannot run it, except in CI: .ci/run sets
// KINDLING_CI, and there a test that would be skipped fails instead, so a skipped test never passes
// for a proof.
package testenv

import (
	"os"
	"testing"
)

// Skip skips the test with why, or fails it when KINDLING_CI is set.
func Skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("KINDLING_CI") != "" {
		t.Fatalf("skipped in CI, which must run every test: %s", why)
	}
	t.Skip(why)
}
