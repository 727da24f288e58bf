package volumetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stevedore-dev/stevedore/agent/volume"
)

// WriteThroughput writes size bytes sequentially to a new file in dir in
// 1 MiB writes, fsyncs it, removes it, and returns the rate in MB/s
// (10^6 bytes per second, the fsync included).
func WriteThroughput(dir string, size int64) (float64, error) {
	f, err := os.CreateTemp(dir, ".throughput-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	var n int64
	for n < size {
		m, err := f.Write(buf[:min(int64(len(buf)), size-n)])
		n += int64(m)
		if err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	secs := time.Since(start).Seconds()
	if err := f.Close(); err != nil {
		return 0, err
	}
	return float64(size) / 1e6 / secs, nil
}

// DriverThroughput provisions v with d, stages and publishes it under
// dir (which must exist), measures WriteThroughput through the published
// target, then unpublishes, unstages and deletes it.
func DriverThroughput(ctx context.Context, d volume.Driver, v volume.Volume, dir string, size int64) (mbps float64, err error) {
	staging, target := filepath.Join(dir, "staging"), filepath.Join(dir, "target")
	for _, p := range []string{staging, target} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return 0, err
		}
	}
	defer func() {
		err = errors.Join(err, d.Unpublish(ctx, v, target), d.Unstage(ctx, v, staging), d.Delete(ctx, v),
			os.Remove(target), os.Remove(staging))
	}()
	if err := d.Provision(ctx, v); err != nil {
		return 0, fmt.Errorf("provision: %w", err)
	}
	if err := d.Stage(ctx, v, staging); err != nil {
		return 0, fmt.Errorf("stage: %w", err)
	}
	if err := d.Publish(ctx, v, staging, target, false); err != nil {
		return 0, fmt.Errorf("publish: %w", err)
	}
	return WriteThroughput(target, size)
}
