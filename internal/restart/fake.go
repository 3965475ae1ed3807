package restart

import (
	"context"
	"sync"

	"github.com/kindling-dev/kindling/internal/transport"
)

// Fake is a Strategy that records its calls, for the engine's tests.
type Fake struct {
	// StrategyName is what Name returns; empty means "fake".
	StrategyName string
	// OnReload, when set, answers Reload for the container named target; otherwise Reload returns
	// Result{Method: "fake"}.
	OnReload   func(target string) (Result, error)
	PrepareErr error
	RestoreErr error

	mu    sync.Mutex
	calls []string
}

// Calls lists the calls so far, in order: "prepare", "reload <target>", "restore".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *Fake) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *Fake) Name() string {
	if f.StrategyName == "" {
		return "fake"
	}
	return f.StrategyName
}

func (f *Fake) Prepare(context.Context) error {
	f.record("prepare")
	return f.PrepareErr
}

func (f *Fake) Reload(_ context.Context, c transport.Execer) (Result, error) {
	f.record("reload " + c.Target())
	if f.OnReload != nil {
		return f.OnReload(c.Target())
	}
	return Result{Method: "fake"}, nil
}

func (f *Fake) Restore(context.Context) error {
	f.record("restore")
	return f.RestoreErr
}
