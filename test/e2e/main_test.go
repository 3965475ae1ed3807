//go:build e2e

package e2e

import (
	"os"
	"testing"
)

// TestMain connects to the cluster (KINDLING_E2E_KUBECONFIG, or the local one started by hack/cluster/up)
// before any test runs. Tests in this package must not define another TestMain.
func TestMain(m *testing.M) { os.Exit(Run(m)) }
