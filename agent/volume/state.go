package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// stateFile is volumes/state.json.
type stateFile struct {
	Volumes map[string]*volState `json:"volumes"`
}

func loadState(path string) (map[string]*volState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*volState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read volume state: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("failed to decode volume state %s: %w", path, err)
	}
	if f.Volumes == nil {
		f.Volumes = map[string]*volState{}
	}
	return f.Volumes, nil
}

// save writes the state; a failure is logged (the next change writes
// again, and the drivers' idempotency covers a state that lags).
func (m *Manager) save() {
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	b, err := json.MarshalIndent(stateFile{Volumes: m.state}, "", "  ")
	m.mu.Unlock()
	if err == nil {
		err = atomicfile.WriteFile(m.statePath(), b, 0o600)
	}
	if err != nil {
		m.log.Error("failed to save volume state", "err", err)
	}
}
