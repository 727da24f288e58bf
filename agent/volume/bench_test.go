package volume_test

import (
	"context"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/volume"
	"github.com/stevedore-dev/stevedore/agent/volume/volumetest"
)

// BenchmarkWriteThroughput measures sequential writes (1 MiB writes, then
// fsync) through each driver beside the raw file system under it; the
// figure is MB/s. make bench reports the same through
// volumetest.DriverThroughput.
func BenchmarkWriteThroughput(b *testing.B) {
	const size = 256 << 20
	ctx := context.Background()
	report := func(b *testing.B, f func() (float64, error)) {
		var sum float64
		for range b.N {
			mbps, err := f()
			if err != nil {
				b.Fatal(err)
			}
			sum += mbps
		}
		b.ReportMetric(sum/float64(b.N), "MB/s")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("raw", func(b *testing.B) {
		dir := b.TempDir()
		report(b, func() (float64, error) { return volumetest.WriteThroughput(dir, size) })
	})
	drivers := []struct {
		name string
		d    func(b *testing.B) volume.Driver
		v    volume.Volume
	}{
		{"local-dir", func(b *testing.B) volume.Driver { return volume.NewLocalDir(b.TempDir()) }, volume.Volume{}},
		{"local-block-ext4", func(b *testing.B) volume.Driver { return volume.NewLocalBlock(b.TempDir()) }, volume.Volume{CapacityBytes: 1 << 30}},
		{"local-block-xfs", func(b *testing.B) volume.Driver { return volume.NewLocalBlock(b.TempDir()) }, volume.Volume{CapacityBytes: 1 << 30, FSType: volume.FSXFS}},
		{"exec-example", func(b *testing.B) volume.Driver {
			d, err := volume.NewExec(ctx, "example.com/dir", volume.PluginPath(examplePluginDir(b), "example.com/dir"), 0)
			if err != nil {
				b.Fatal(err)
			}
			return d
		}, volume.Volume{}},
		{"sshfs", nil, volume.Volume{}},
	}
	for _, dr := range drivers {
		b.Run(dr.name, func(b *testing.B) {
			needRoot(b)
			v := dr.v
			v.Name, v.Handle = "bench", "bench"
			var d volume.Driver
			if dr.d == nil {
				srv := startSSHD(b)
				d, v.Parameters = srv.driver(), srv.params()
			} else {
				d = dr.d(b)
			}
			if v.Parameters == nil {
				v.Parameters = map[string]string{"root": b.TempDir()}
			}
			report(b, func() (float64, error) { return volumetest.DriverThroughput(ctx, d, v, b.TempDir(), size) })
		})
	}
}
