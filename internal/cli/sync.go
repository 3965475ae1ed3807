package cli

import (
	"os"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kindling-dev/kindling/internal/runtime"
)

const syncExamples = `  # Watch current directory, restart the app on each change
  kindling sync -d my-api --restart

  # One-shot sync (no file watching)
  kindling sync -d my-api --restart --once

  # Python/uvicorn — signal reload (SIGHUP)
  kindling sync -d orders --src ./services/orders --restart

  # Nginx — zero-downtime SIGHUP reload
  kindling sync -d frontend --src ./dist --dest /usr/share/nginx/html --restart

  # Go — cross-compiles locally, syncs binary
  kindling sync -d gateway --restart --language go

  # Custom build command
  kindling sync -d gateway --restart \
    --build-cmd 'CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o ./bin/gw .' \
    --build-output ./bin/gw

  # Extra excludes
  kindling sync -d my-api --src ./src --exclude '*.test.js' --exclude 'fixtures/'

  # Multi-container pod — target a specific container
  kindling sync -d my-api --container app --restart`

// syncOptions are the flags of kindling sync.
type syncOptions struct {
	connection
	src, dest, container            string
	restart, once, dryRun, keep     bool
	excludes                        []string
	debounce                        time.Duration
	language, buildCmd, buildOutput string
}

func newSyncCommand() *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "sync -d DEPLOYMENT [flags]",
		Short: "Sync local files into a Deployment's pods and reload the app",
		Long: `kindling sync watches your local source files and syncs changes into the running pods of a
Deployment in real time — no image rebuild, no redeploy. Every running pod of the Deployment's current
revision gets each change; a pod that is replaced or restarted is synced again as soon as it runs.

The cluster is reached like kubectl does: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; --context
picks the context, and the namespace is -n, else the context's namespace, else "default".`,
		Example: syncExamples,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return runSync(cmd.Context(), cmd.OutOrStdout(), o, func() (*cluster, error) { return dial(o.connection) })
		},
	}
	f := cmd.Flags()
	o.connection.register(f, "Target deployment name (required)")
	f.StringVar(&o.src, "src", ".", "Local source directory to watch")
	f.StringVar(&o.dest, "dest", "/app", "Destination path inside the container")
	f.BoolVar(&o.restart, "restart", false, "Restart the app process after each sync")
	f.BoolVar(&o.once, "once", false, "Sync once and exit (no file watching)")
	f.StringVar(&o.container, "container", "", "Container name (for multi-container pods)")
	f.StringArrayVar(&o.excludes, "exclude", nil, "Additional exclude patterns, .gitignore syntax (repeatable)")
	f.DurationVar(&o.debounce, "debounce", 500*time.Millisecond, "Debounce interval for batching rapid changes")
	f.StringVar(&o.language, "language", "", "Override runtime detection ("+strings.Join(runtime.Languages(), ", ")+")")
	f.StringVar(&o.buildCmd, "build-cmd", "", "Local build command for compiled languages (default: auto-detect)")
	f.StringVar(&o.buildOutput, "build-output", "", "Path to built artifact to sync (default: auto-detect)")
	f.BoolVar(&o.keep, "keep", false, "With --once --restart: leave the restart supervisor in the Deployment so the synced code keeps running (undo with kindling restore)")
	f.BoolVar(&o.dryRun, "dry-run", false, "Print the target, detected runtime and chosen strategy, then exit without changing anything")
	return cmd
}

func (o *syncOptions) validate() error {
	if o.deployment == "" {
		return usagef("--deployment (-d) is required: name the Deployment to sync into")
	}
	info, err := os.Stat(o.src)
	switch {
	case err != nil:
		return usagef("--src %s does not exist; pass the local directory to sync", o.src)
	case !info.IsDir():
		return usagef("--src %s is not a directory; pass the directory that holds it", o.src)
	}
	if !path.IsAbs(o.dest) {
		return usagef("--dest %q must be an absolute path inside the container, e.g. /app", o.dest)
	}
	o.dest = path.Clean(o.dest)
	if o.dest == "/" {
		return usagef("--dest / would sync over the container's whole filesystem; pick a directory such as /app")
	}
	if o.debounce <= 0 {
		return usagef("--debounce %s must be positive, e.g. 500ms", o.debounce)
	}
	if o.language != "" {
		if _, err := runtime.Lookup(o.language); err != nil {
			return usageError{err}
		}
	}
	if o.keep && !(o.once && o.restart) {
		return usagef("--keep only applies to --once --restart: a watching session restores the Deployment when it stops")
	}
	if (o.buildCmd == "") != (o.buildOutput == "") {
		return usagef("--build-cmd and --build-output go together: give both, or neither to use the default build")
	}
	return nil
}
