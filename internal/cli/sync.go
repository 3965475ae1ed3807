package cli

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kindling-dev/kindling/internal/hooks"
	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/restart"
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

  # Go — cross-compiles locally, syncs binary (on a distroless or scratch image too)
  kindling sync -d gateway --restart --language go

  # Custom build command
  kindling sync -d gateway --restart \
    --build-cmd 'CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -o ./bin/gw .' \
    --build-output ./bin/gw

  # Extra excludes
  kindling sync -d my-api --src ./src --exclude '*.test.js' --exclude 'fixtures/'

  # Multi-container pod — target a specific container
  kindling sync -d my-api --container app --restart`

// syncOptions are the flags of kindling sync: one entry of a run.
type syncOptions struct {
	connection
	src, dest, container            string
	restart, once, dryRun, keep     bool
	noInstall                       bool
	excludes, onChange              []string
	debounce                        time.Duration
	language, buildCmd, buildOutput string
	helperImage                     string
	compress                        string
}

// runOptions are the flags about the run as a whole, whatever its entries.
type runOptions struct {
	file    string
	output  string
	verbose bool
	// poll, when set, watches by polling at this interval instead of file system events.
	poll time.Duration
}

func newSyncCommand() *cobra.Command {
	var o syncOptions
	var r runOptions
	cmd := &cobra.Command{
		Use:   "sync [ENTRY] [-d DEPLOYMENT] [flags]",
		Short: "Sync local files into a Deployment's pods and reload the app",
		Long: `kindling sync watches your local source files and syncs changes into the running pods of a
Deployment in real time — no image rebuild, no redeploy. Every running pod of the Deployment's current
revision gets each change; a pod that is replaced or restarted is synced again as soon as it runs.

The cluster is reached like kubectl does: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; --context
picks the context, and the namespace is -n, else the context's namespace, else "default".

With a project file (kindling.yaml in the current directory or a parent, or -f), kindling sync with no
-d runs every entry of it in one process; "kindling sync NAME" (or -d NAME) runs one. A flag given on the
command line overrides the file.`,
		Example: syncExamples,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries, err := o.complete(cmd.Flags(), args, r.file)
			if err != nil {
				return err
			}
			if r.output != "text" && r.output != "json" {
				return usagef("--output %q is not known: use text or json", r.output)
			}
			if r.poll < 0 || r.poll > 0 && r.poll < 100*time.Millisecond {
				return usagef("--poll %s: give an interval of at least 100ms, e.g. 1s", r.poll)
			}
			return runSync(cmd.Context(), newReporter(cmd.OutOrStdout(), cmd.ErrOrStderr(), r), entries, r.poll, func() (*cluster, error) { return dial(entries[0].connection) })
		},
	}
	f := cmd.Flags()
	o.register(f)
	f.StringVarP(&r.file, "file", "f", "", "Project file (default: kindling.yaml in the current directory or a parent)")
	f.StringVarP(&r.output, "output", "o", "text", "Output format: text, or json for one event per line on stdout (see docs/events.md)")
	f.BoolVarP(&r.verbose, "verbose", "v", false, "Say what was skipped and why (excluded paths, saves with no content change)")
	f.DurationVar(&r.poll, "poll", 0, "Watch by polling every INTERVAL (e.g. 1s) instead of file system events: for NFS, SMB, WSL2 /mnt/c and other mounts where events do not arrive")
	return cmd
}

// register defines the flags of one entry.
func (o *syncOptions) register(f *pflag.FlagSet) {
	o.connection.register(f, "Target workload: NAME of a Deployment, or TYPE/NAME (statefulset/NAME, daemonset/NAME, deployment/NAME; kubectl's short names too) (required without a project file)")
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
	f.BoolVar(&o.noInstall, "no-install", false, "Do not run npm/pip/bundle/… in the container when a dependency manifest changes")
	f.StringVar(&o.compress, "compress", "auto", "Compress large transfers with zstd or gzip, whichever the container has (zstd first; neither: sent as is): auto (when the cluster's API server is not on this machine), on, or off")
	f.StringVar(&o.helperImage, "helper-image", restart.DefaultHelperImage, "With --restart, for a container without a shell: the image whose static BusyBox kindling brings in (mirror it for an air-gapped cluster)")
	f.StringArrayVar(&o.onChange, "on-change", nil, "GLOB=COMMAND: run COMMAND in --dest after a sync that touched GLOB, before the reload (repeatable)")
}

// complete resolves the entries of this run: the command line alone when there is no project file (or
// -d names a Deployment the file does not list), else the file's entries (all, or the one named), each
// with the file's defaults under it and the command line's flags over it. Every entry is validated
// before anything in the cluster is touched.
func (o syncOptions) complete(cli *pflag.FlagSet, args []string, file string) ([]syncOptions, error) {
	if file == "" {
		file = findProject(".")
	} else if _, err := os.Stat(file); err != nil {
		return nil, usagef("-f %s: %v; pass the path of a kindling.yaml", file, errors.Unwrap(err))
	}
	name := o.deployment
	if len(args) == 1 {
		if name != "" && name != args[0] {
			return nil, usagef("both %q and -d %q name an entry: give one", args[0], name)
		}
		name = args[0]
	}
	if file == "" {
		if len(args) == 1 {
			return nil, usagef("no kindling.yaml here or in a parent directory to find entry %q in: use -d %s, or create one with kindling init", name, name)
		}
		if err := o.validate(); err != nil {
			return nil, err
		}
		return []syncOptions{o}, nil
	}
	p, err := loadProject(file)
	if err != nil {
		return nil, usageError{err}
	}
	var entries []fields
	for _, e := range p.syncs {
		if name == "" || e.values["deployment"].value == name {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		if len(args) == 1 {
			return nil, usagef("%s has no entry %q; its entries are %s", file, name, strings.Join(p.entryNames(), ", "))
		}
		entries = []fields{{values: map[string]field{}}} // -d names a Deployment of its own: the file's defaults apply
	}
	var out []syncOptions
	for _, e := range entries {
		entry, err := resolveEntry(cli, p, e)
		if err != nil {
			return nil, err
		}
		if err := entry.validate(); err != nil {
			if e.line > 0 {
				return nil, usagef("%s:%d: %v", file, e.line, err)
			}
			return nil, err
		}
		out = append(out, entry)
	}
	return out, nil
}

// resolveEntry sets up one entry's options: the flags' defaults, then the file's top level, then the
// entry, then what the command line gave.
func resolveEntry(cli *pflag.FlagSet, p *project, e fields) (syncOptions, error) {
	var o syncOptions
	f := pflag.NewFlagSet("entry", pflag.ContinueOnError)
	o.register(f)
	base := filepath.Dir(p.path)
	for _, part := range []fields{p.defaults, e} {
		for key, v := range part.values {
			if cli.Changed(key) {
				continue
			}
			if (key == "src" || key == "kubeconfig") && !filepath.IsAbs(v.value.(string)) {
				v.value = filepath.Join(base, v.value.(string)) // relative to the file, wherever kindling runs
			}
			if err := setFlag(f.Lookup(key), v.value); err != nil {
				return o, usagef("%s:%d: %s: %v", p.path, v.line, key, err)
			}
		}
	}
	var err error
	cli.Visit(func(given *pflag.Flag) {
		if target := f.Lookup(given.Name); target != nil && err == nil {
			if list, ok := given.Value.(pflag.SliceValue); ok {
				err = target.Value.(pflag.SliceValue).Replace(list.GetSlice())
				return
			}
			err = target.Value.Set(given.Value.String())
		}
	})
	return o, err
}

// setFlag gives a flag a value read from the project file.
func setFlag(f *pflag.Flag, value any) error {
	switch v := value.(type) {
	case []string:
		return f.Value.(pflag.SliceValue).Replace(v)
	case bool:
		return f.Value.Set(strconv.FormatBool(v))
	case time.Duration:
		return f.Value.Set(v.String())
	}
	return f.Value.Set(value.(string))
}

func (o *syncOptions) validate() error {
	if o.deployment == "" {
		return usagef("--deployment (-d) is required: name the Deployment to sync into, or list several in a kindling.yaml")
	}
	ref, err := kube.ParseRef(o.deployment)
	if err != nil {
		return usageError{err}
	}
	// One spelling per workload: what events, prefixes and printed commands say.
	o.deployment = ref.Arg()
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
	if o.compress != "" && o.compress != "auto" && o.compress != "on" && o.compress != "off" {
		return usagef("--compress %q is not known: use auto, on or off", o.compress)
	}
	if o.language != "" {
		if _, err := runtime.Lookup(o.language); err != nil {
			return usageError{err}
		}
	}
	if o.keep && !(o.once && o.restart) {
		return usagef("--keep only applies to --once --restart: a watching session restores the Deployment when it stops")
	}
	for _, oc := range o.onChange {
		if _, err := hooks.ParseOnChange(oc); err != nil {
			return usageError{err}
		}
	}
	if (o.buildCmd == "") != (o.buildOutput == "") {
		return usagef("--build-cmd and --build-output go together: give both, or neither to use the default build")
	}
	return nil
}
