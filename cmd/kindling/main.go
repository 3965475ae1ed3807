// Command kindling live-syncs a local source tree into the pods of a Kubernetes Deployment.
package main

import (
	"os"

	"github.com/kindling-dev/kindling/internal/cli"
)

func main() {
	os.Exit(cli.Execute())
}
