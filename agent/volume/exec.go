package volume

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// This file is the out-of-process driver protocol, in the manner of
// Kubernetes' FlexVolume: a driver is an executable, called once per
// operation as `<exe> <op>` with a JSON request on stdin, answering one
// JSON object on stdout. docs/volume-drivers.md is its specification.

// Exec operations, the executable's first argument.
const (
	OpCapabilities = "capabilities"
	OpProvision    = "provision"
	OpDelete       = "delete"
	OpStage        = "stage"
	OpUnstage      = "unstage"
	OpPublish      = "publish"
	OpUnpublish    = "unpublish"
)

// Exec answer statuses.
const (
	StatusSuccess = "Success"
	StatusFailure = "Failure"
)

// DefaultExecTimeout bounds one call of an exec driver.
const DefaultExecTimeout = 2 * time.Minute

// ExecVolume is Volume on the wire.
type ExecVolume struct {
	Name          string            `json:"name"`
	Handle        string            `json:"handle"`
	CapacityBytes int64             `json:"capacityBytes,omitempty"`
	FSType        string            `json:"fsType,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	MountOptions  []string          `json:"mountOptions,omitempty"`
}

// ExecRequest is what an exec driver reads on stdin. Volume is absent for
// capabilities; StagingPath is set for stage, unstage and publish,
// TargetPath for publish and unpublish, ReadOnly for publish.
type ExecRequest struct {
	Volume      *ExecVolume `json:"volume,omitempty"`
	StagingPath string      `json:"stagingPath,omitempty"`
	TargetPath  string      `json:"targetPath,omitempty"`
	ReadOnly    bool        `json:"readOnly,omitempty"`
}

// ExecCapabilities is Capabilities on the wire.
type ExecCapabilities struct {
	NodeLocal        bool `json:"nodeLocal"`
	EnforcesCapacity bool `json:"enforcesCapacity"`
}

// ExecResponse is what an exec driver writes on stdout.
type ExecResponse struct {
	// Status is StatusSuccess or StatusFailure.
	Status string `json:"status"`
	// Message says why, on failure.
	Message string `json:"message,omitempty"`
	// Capabilities answers the capabilities operation.
	Capabilities *ExecCapabilities `json:"capabilities,omitempty"`
}

// Exec adapts an executable to Driver.
type Exec struct {
	name, path string
	timeout    time.Duration
	caps       Capabilities
}

var _ Driver = (*Exec)(nil)

// PluginPath is where a plug-in for provisioner lives in dir: its name
// with each "/" replaced by "~" (example.com/nfs → example.com~nfs), as
// FlexVolume names its vendor~driver directories.
func PluginPath(dir, provisioner string) string {
	return filepath.Join(dir, strings.ReplaceAll(provisioner, "/", "~"))
}

// NewExec returns the driver name run by the executable at path, each
// call bounded by timeout (zero means DefaultExecTimeout). It asks the
// executable for its capabilities once, here.
func NewExec(ctx context.Context, name, path string, timeout time.Duration) (*Exec, error) {
	if timeout <= 0 {
		timeout = DefaultExecTimeout
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("volume plug-in %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("volume plug-in %s: %s is not an executable file", name, path)
	}
	d := &Exec{name: name, path: path, timeout: timeout}
	resp, err := d.call(ctx, OpCapabilities, ExecRequest{})
	if err != nil {
		return nil, err
	}
	if resp.Capabilities != nil {
		d.caps = Capabilities{NodeLocal: resp.Capabilities.NodeLocal, EnforcesCapacity: resp.Capabilities.EnforcesCapacity}
	}
	return d, nil
}

// Name implements Driver.
func (d *Exec) Name() string { return d.name }

// Path is the executable.
func (d *Exec) Path() string { return d.path }

// Capabilities implements Driver: what the executable answered.
func (d *Exec) Capabilities() Capabilities { return d.caps }

func wireVolume(v Volume) *ExecVolume {
	return &ExecVolume{Name: v.Name, Handle: v.Handle, CapacityBytes: v.CapacityBytes, FSType: v.FSType,
		Parameters: v.Parameters, MountOptions: v.MountOptions}
}

// Provision implements Driver.
func (d *Exec) Provision(ctx context.Context, v Volume) error {
	_, err := d.call(ctx, OpProvision, ExecRequest{Volume: wireVolume(v)})
	return err
}

// Delete implements Driver.
func (d *Exec) Delete(ctx context.Context, v Volume) error {
	_, err := d.call(ctx, OpDelete, ExecRequest{Volume: wireVolume(v)})
	return err
}

// Stage implements Driver.
func (d *Exec) Stage(ctx context.Context, v Volume, stagingPath string) error {
	_, err := d.call(ctx, OpStage, ExecRequest{Volume: wireVolume(v), StagingPath: stagingPath})
	return err
}

// Unstage implements Driver.
func (d *Exec) Unstage(ctx context.Context, v Volume, stagingPath string) error {
	_, err := d.call(ctx, OpUnstage, ExecRequest{Volume: wireVolume(v), StagingPath: stagingPath})
	return err
}

// Publish implements Driver.
func (d *Exec) Publish(ctx context.Context, v Volume, stagingPath, targetPath string, readOnly bool) error {
	_, err := d.call(ctx, OpPublish, ExecRequest{Volume: wireVolume(v), StagingPath: stagingPath, TargetPath: targetPath, ReadOnly: readOnly})
	return err
}

// Unpublish implements Driver.
func (d *Exec) Unpublish(ctx context.Context, v Volume, targetPath string) error {
	_, err := d.call(ctx, OpUnpublish, ExecRequest{Volume: wireVolume(v), TargetPath: targetPath})
	return err
}

// maxExecOutput bounds what is read of a plug-in's stdout and stderr.
const maxExecOutput = 1 << 20

// call runs `<exe> op` with req on stdin and decodes its answer. A
// timeout kills the plug-in's whole process group.
func (d *Exec) call(ctx context.Context, op string, req ExecRequest) (ExecResponse, error) {
	var resp ExecResponse
	in, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.path, op)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	what := fmt.Sprintf("volume plug-in %s %s", d.name, op)
	if req.Volume != nil {
		what += " " + req.Volume.Name
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return resp, fmt.Errorf("%s: timed out after %s", what, d.timeout)
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &resp); err != nil {
		if runErr != nil {
			return resp, fmt.Errorf("%s: %w: %s", what, runErr, strings.TrimSpace(stderr.String()))
		}
		return resp, fmt.Errorf("%s: failed to decode its answer %q: %w", what, truncate(stdout.String(), 200), err)
	}
	switch resp.Status {
	case StatusSuccess:
		if runErr != nil {
			return resp, fmt.Errorf("%s: answered Success but %w: %s", what, runErr, strings.TrimSpace(stderr.String()))
		}
		return resp, nil
	case StatusFailure:
		return resp, fmt.Errorf("%s: %s", what, resp.Message)
	}
	return resp, fmt.Errorf("%s: unknown status %q (want %s or %s)", what, resp.Status, StatusSuccess, StatusFailure)
}

// limitedBuffer keeps the first maxExecOutput bytes written.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxExecOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
