package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kindling-dev/kindling/internal/cachefile"
	"github.com/kindling-dev/kindling/internal/transport"
)

// warmShells are container shells started before anything is read from the API, in the pods that the
// previous kindling for the same Deployment synced into: an exec takes longer than reading the Deployment
// and its pods, and those pods are most often still there. podTargets adopts the shells of pods that are
// still current and closes the others. The hint is only a shortcut: a wrong one costs an exec that fails.
type warmShells struct {
	hint     string                        // the hint file; "" keeps none
	shells   map[string]*transport.Session // by warmKey(pod, container)
	previous []string                      // the keys the hint held
}

func warmKey(pod, container string) string { return pod + "/" + container }

// startWarmShells opens a shell in each container the hint file of this Deployment names.
func startWarmShells(client *cluster, deployment string) *warmShells {
	w := &warmShells{shells: map[string]*transport.Session{}}
	dir := cacheDir("pods")
	if dir == "" {
		return w
	}
	sum := sha256.Sum256([]byte(client.Config.Host + "\x00" + client.Namespace + "\x00" + deployment))
	w.hint = filepath.Join(dir, hex.EncodeToString(sum[:16]))
	b, err := os.ReadFile(w.hint)
	if err != nil {
		return w
	}
	for _, key := range strings.Fields(string(b)) {
		pod, container, ok := strings.Cut(key, "/")
		if !ok {
			continue
		}
		s := transport.NewSession(client.exec(client.Namespace, pod, container))
		s.Open()
		w.shells[key] = s
		w.previous = append(w.previous, key)
	}
	return w
}

// take returns the warm shell of a container, if there is one, and forgets it.
func (w *warmShells) take(pod, container string) *transport.Session {
	key := warmKey(pod, container)
	s := w.shells[key]
	delete(w.shells, key)
	return s
}

// remember writes the containers synced now as the next run's hint, when they differ from it.
func (w *warmShells) remember(keys []string) {
	slices.Sort(keys)
	if w.hint == "" || slices.Equal(keys, w.previous) {
		return
	}
	w.previous = keys
	cachefile.Replace(w.hint, []byte(strings.Join(keys, "\n")+"\n")) // a hint not written costs the next start ~30 ms
}

// closeRest closes the shells no current container took.
func (w *warmShells) closeRest() {
	for key, s := range w.shells {
		s.Close()
		delete(w.shells, key)
	}
}
