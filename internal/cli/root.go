// Package cli holds kindling's commands: it turns flags into the engine's configuration and wires the
// real implementations (client-go, fsnotify, the exec transport) into it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/kindling-dev/kindling/internal/kube"
)

// Execute runs the command line and returns the process exit code.
func Execute() int {
	// client-go logs stream hiccups through klog; kindling reports what matters in its own words.
	klog.SetLogger(logr.Discard())
	// SIGHUP is what a closed terminal sends: it stops the session cleanly like Ctrl-C does.
	caught := make(chan os.Signal, 4)
	signal.Notify(caught, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(caught)
	signals := make(chan struct{}, 4)
	go func() {
		for range caught {
			signals <- struct{}{}
		}
	}()
	guard := &exitGuard{}
	ctx, cancel := context.WithCancel(withGuard(context.Background(), guard))
	defer cancel()
	// The third signal's os.Exit skips deferred calls: the terminal's mode (the r and q keys) is put back first.
	go onSignals(signals, cancel, guard, os.Stderr, exitRestoring(os.Exit))
	defer restoreTerminal()
	root := newRoot()
	if err := root.ExecuteContext(ctx); err != nil {
		// A refusal by RBAC anywhere (the hold, a restore, a repair) names the verb, resource and fix.
		err = kube.ExplainDenied(err)
		fmt.Fprintln(os.Stderr, "kindling: "+err.Error())
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks bad command-line input (exit code 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "kindling",
		Short:         "Live-sync local source into the pods of a Kubernetes Deployment",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Installed by krew, kindling runs as kubectl-kindling: its help says what the user typed.
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-kindling") {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kindling"}
	}
	root.AddCommand(newSyncCommand(), newInitCommand(), newRestoreCommand(), newVersionCommand())
	return root
}
