package restart

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/transport"
)

// entrypointScripts are where images conventionally keep an ENTRYPOINT script that sets things up
// (exports, generated configuration) and then execs the app, so that pid 1 shows the app and not the
// script: the official node, postgres, redis, mysql, mongo images (docker-entrypoint.sh in
// /usr/local/bin), nginx (/docker-entrypoint.sh), php (docker-php-entrypoint) and the names
// hand-written Dockerfiles use.
var entrypointScripts = []string{
	"/docker-entrypoint.sh",
	"/usr/local/bin/docker-entrypoint.sh",
	"/usr/local/bin/docker-php-entrypoint",
	"/entrypoint.sh",
	"/usr/local/bin/entrypoint.sh",
	"/usr/bin/entrypoint.sh",
}

// existingScript prints those of its arguments that are files. The names travel as arguments, never
// in the script's text.
const existingScript = `for f do [ -f "$f" ] && printf '%s\n' "$f"; done; exit 0`

// EntrypointError is a container whose image has an entrypoint script that pid 1 no longer runs:
// wrapping pid 1's argv would start the app without the script's set-up.
type EntrypointError struct {
	Container string
	Script    string
	Pid1      []string
}

func (e *EntrypointError) Error() string {
	example := make([]string, 0, len(e.Pid1)+1)
	for _, a := range append([]string{e.Script}, e.Pid1...) {
		example = append(example, strconv.Quote(a))
	}
	return fmt.Sprintf("container %q sets no command and its image has %s, which pid 1 (%s) does not run: the restart supervisor would start the app without that script's set-up; set the container's command in the Deployment to the entrypoint and the app, e.g. command: [%s], and kindling wraps exactly that",
		e.Container, e.Script, strings.Join(e.Pid1, " "), strings.Join(example, ", "))
}

// CheckEntrypoint tells whether Wrap may run pid1, pid 1's argv as /proc/1/cmdline shows it, in place
// of the image's entrypoint: a container without a command runs its image's ENTRYPOINT, and when that
// is a script which set things up and exec'd the app, pid 1 is the app and the set-up is not in its
// argv. So when the image has a conventional entrypoint script (entrypointScripts) that pid1 does not
// mention, it returns an *EntrypointError naming the script and the fix. A container with a command
// (wrapped as the template says) or a pid 1 that still runs the script (the script's shell, or an init
// that started it) needs no check; with no pid1 there is nothing to check (Wrap says so).
func CheckEntrypoint(ctx context.Context, e transport.Execer, c corev1.Container, pid1 []string) error {
	return checkEntrypoint(ctx, e, c, pid1, entrypointScripts)
}

func checkEntrypoint(ctx context.Context, e transport.Execer, c corev1.Container, pid1, scripts []string) error {
	if len(c.Command) > 0 || len(pid1) == 0 {
		return nil
	}
	var candidates []string
	for _, s := range scripts {
		if !slices.ContainsFunc(pid1, func(a string) bool { return strings.Contains(a, path.Base(s)) }) {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	var stdout, stderr bytes.Buffer
	argv := append([]string{"sh", "-c", existingScript, "sh"}, candidates...)
	if err := e.Exec(ctx, argv, nil, &stdout, &stderr); err != nil {
		return fmt.Errorf("%s: could not look for an entrypoint script: %v %s", e.Target(), err, strings.TrimSpace(stderr.String()))
	}
	for line := range strings.Lines(stdout.String()) {
		if s := strings.TrimSuffix(line, "\n"); slices.Contains(candidates, s) {
			return &EntrypointError{Container: c.Name, Script: s, Pid1: pid1}
		}
	}
	return nil
}
