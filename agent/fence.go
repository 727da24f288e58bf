package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// fenceFile is the name, under Config.DataDir, of the persisted fencing state.
const fenceFile = "fence.json"

// fenceState is what an agent remembers across restarts so that a deposed
// leader cannot start pods on it after it comes back: the highest term it has
// seen and the generation it last applied within that term.
type fenceState struct {
	// Term is the highest term of a set accepted.
	Term uint64 `json:"term"`
	// Cluster is the cluster ID of the control plane that term is from.
	Cluster string `json:"cluster,omitempty"`
	// AppliedTerm and Generation identify the last set handed to the runtime.
	AppliedTerm uint64 `json:"appliedTerm"`
	Generation  uint64 `json:"generation"`
}

// loadFence reads the fencing state; a missing file is a fresh node.
func loadFence(dir string) (fenceState, error) {
	var st fenceState
	b, err := os.ReadFile(filepath.Join(dir, fenceFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("failed to read fencing state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		// A corrupt file must not silently reset the fence to zero: that
		// would let any deposed leader in. Refuse to start instead.
		return st, fmt.Errorf("failed to decode fencing state %s: %w", filepath.Join(dir, fenceFile), err)
	}
	return st, nil
}

// saveFence writes the fencing state atomically (internal/atomicfile), so a
// crash leaves either the old or the new state, never a torn file.
func saveFence(dir string, st fenceState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("failed to encode fencing state: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, fenceFile), b, 0o600); err != nil {
		return fmt.Errorf("failed to save fencing state: %w", err)
	}
	return nil
}
