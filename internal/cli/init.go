package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindling-dev/kindling/internal/runtime"
)

func newInitCommand() *cobra.Command {
	var c connection
	var src string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter kindling.yaml for the Deployments that run this directory's code",
		Long: `kindling init writes kindling.yaml in the current directory: one entry for each Deployment of the
namespace whose container runs the language of the local tree (found from go.mod, package.json,
requirements.txt, …), or a commented example when none does. Edit it, then run kindling sync.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := projectFileName
			if _, err := os.Stat(path); err == nil {
				return usagef("%s already exists here: edit it, or remove it to write a new one", path)
			}
			client, err := dial(c)
			if err != nil {
				return err
			}
			text, err := starterProject(cmd.Context(), client, src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kindling: wrote %s; check it, then run kindling sync\n", path)
			return nil
		},
	}
	f := cmd.Flags()
	c.register(f, "")
	f.StringVar(&src, "src", ".", "Local source directory the entries sync")
	return cmd
}

// starterProject is the text of a new kindling.yaml: the Deployments whose container runs the local
// tree's language, each as an entry, or one commented example naming what was found.
func starterProject(ctx context.Context, client *cluster, src string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# kindling.yaml: what `kindling sync` syncs (every entry in one process; `kindling sync NAME` for one).\n")
	fmt.Fprintf(&b, "# Keys are kindling sync's flags; a flag on the command line wins. Schema: docs/kindling.schema.json\n")
	fmt.Fprintf(&b, "namespace: %s\n", client.Namespace)
	fmt.Fprintf(&b, "# debounce: 500ms\n# exclude: [\"*.log\"]\n")
	local, localErr := runtime.Detect(runtime.Input{Src: src})
	list, err := client.Clientset.AppsV1().Deployments(client.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	var matched, others []string
	for _, d := range list.Items {
		found := false
		for _, c := range d.Spec.Template.Spec.Containers {
			det, err := runtime.Detect(runtime.Input{Command: c.Command, Args: c.Args})
			if found || err != nil || localErr != nil || det.Runtime.Language != local.Runtime.Language {
				continue
			}
			found = true
			entry := fmt.Sprintf("  - deployment: %s   # runs %s\n    src: %s\n    restart: true\n", d.Name, det.Runtime.Display, yamlString(src))
			if len(d.Spec.Template.Spec.Containers) > 1 {
				entry += "    container: " + c.Name + "\n"
			}
			if c.WorkingDir != "" && c.WorkingDir != "/app" {
				entry += "    dest: " + yamlString(c.WorkingDir) + "\n"
			}
			matched = append(matched, entry)
		}
		if !found {
			others = append(others, d.Name)
		}
	}
	if len(matched) > 0 {
		b.WriteString("syncs:\n")
		for _, m := range matched {
			b.WriteString(m)
		}
		if len(others) > 0 {
			fmt.Fprintf(&b, "  # Also in %s (another language, or not recognised): %s\n", client.Namespace, strings.Join(others, ", "))
		}
		return b.String(), nil
	}
	why := "no Deployment here runs it"
	switch {
	case localErr != nil:
		why = "the language of " + src + " is not recognised (no go.mod, package.json, requirements.txt, …)"
	case len(list.Items) == 0:
		why = "the namespace has no Deployment"
	}
	fmt.Fprintf(&b, "# No entry was written: %s. An example:\nsyncs:\n  - deployment: my-api\n    src: %s\n    restart: true\n", why, yamlString(src))
	fmt.Fprintf(&b, "#   dest: /app\n#   exclude: [\"*.map\"]\n")
	if len(others) > 0 {
		fmt.Fprintf(&b, "# Deployments in %s: %s\n", client.Namespace, strings.Join(others, ", "))
	}
	return b.String(), nil
}

// yamlString quotes s when YAML would read it as something else than the plain string.
func yamlString(s string) string {
	if s == "" || strings.ContainsAny(s, ":#{}[],&*?|<>=!%@`'\"") || strings.TrimSpace(s) != s {
		return fmt.Sprintf("%q", s)
	}
	return s
}
