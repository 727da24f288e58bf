package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// recordFile is the name of a pod's record in its directory under
// DataDir/pods.
const recordFile = "pod.json"

// podRecord is what the runtime keeps on disk per pod, so a restarted agent
// knows each pod's spec, IP and containers' history (containerd only knows
// the labels).
type podRecord struct {
	Pod        api.Pod                    `json:"pod"`
	Hash       string                     `json:"hash"`
	PodIP      string                     `json:"podIP,omitempty"`
	StartTime  *time.Time                 `json:"startTime,omitempty"`
	Containers map[string]containerRecord `json:"containers,omitempty"`
	// Conditions keep their LastTransitionTime across agent restarts.
	Conditions []api.Condition `json:"conditions,omitempty"`
}

type containerRecord struct {
	RestartCount int32              `json:"restartCount"`
	StartedAt    time.Time          `json:"startedAt,omitempty"`
	LastState    api.ContainerState `json:"lastState,omitempty"`
	// Crashes counts consecutive restarts for the back-off.
	Crashes int `json:"crashes,omitempty"`
	// Terminated is the container's current state when it has exited and
	// not (yet) started again: a restarted agent must neither run a
	// finished container again nor skip a crash back-off.
	Terminated *api.StateTerminated `json:"terminated,omitempty"`
}

// specHash identifies a pod's desired content: a pod whose spec changes
// under the same UID is replaced.
func specHash(p api.Pod) string {
	b, _ := json.Marshal(p.Spec)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func writeRecord(dir string, rec podRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("failed to encode pod record: %w", err)
	}
	// fsynced: a record cut short by a crash would keep the agent from
	// starting (adopt refuses a corrupt record rather than guess).
	if err := atomicfile.WriteFile(filepath.Join(dir, recordFile), b, 0o600); err != nil {
		return fmt.Errorf("failed to save pod record: %w", err)
	}
	return nil
}

// readRecord reads the record in a pod directory. A missing record is an
// error matching fs.ErrNotExist (the pod's directory was made, its record
// never written). Every other failure names the file: a record that exists
// but cannot be read, decoded, or is for another pod is corruption, which
// adopt refuses to guess about.
func readRecord(dir string) (podRecord, error) {
	var rec podRecord
	path := filepath.Join(dir, recordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		// os.ReadFile's error names the path.
		return rec, fmt.Errorf("failed to read pod record: %w", err)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("failed to decode pod record %s: %w", path, err)
	}
	if rec.Pod.UID == "" {
		return rec, fmt.Errorf("failed to decode pod record %s: no pod UID", path)
	}
	if id := podID(rec.Pod.UID); id != filepath.Base(dir) {
		return rec, fmt.Errorf("pod record %s is for pod %s (directory %s), not this directory", path, rec.Pod.UID, id)
	}
	return rec, nil
}
