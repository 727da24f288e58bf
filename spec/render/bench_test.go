package render

import (
	"fmt"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/benchdata"
)

// BenchmarkLoadOverlay measures Load of the benchmark's overlay, a new
// revision each time (render's cache does not answer), built in chunks (as
// Load does; base files of 100 objects as in cmd/devcluster's benchmark, or
// a single file) and whole (as before chunked builds). cpu-ns/op is the
// process's CPU time per render: on a loaded machine it says more than the
// wall clock.
func BenchmarkLoadOverlay(b *testing.B) {
	for _, mode := range []string{"chunked", "chunked-one-file", "whole"} {
		for _, n := range []int{100, 300, 1000, 3000} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				if mode == "whole" {
					old := chunkObjects
					chunkObjects = n
					b.Cleanup(func() { chunkObjects = old })
				}
				perFile := 100
				if mode == "chunked-one-file" {
					perFile = n
				}
				files, _ := benchdata.Kustomize(n, perFile)
				cpu := benchdata.CPUTime()
				for i := 0; b.Loop(); i++ {
					files["kustomization.yaml"] = fmt.Appendf(nil, "# %s run %d\n%s", mode, i, benchdata.KustomizeOverlay)
					set, err := Load(files)
					if err != nil {
						b.Fatal(err)
					}
					if len(set.Objects) != n {
						b.Fatalf("rendered %d objects, want %d", len(set.Objects), n)
					}
				}
				b.ReportMetric(float64(benchdata.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// mustOverlay is the benchmark's overlay of n objects in base files of
// perFile.
func mustOverlay(n, perFile int) map[string][]byte {
	files, _ := benchdata.Kustomize(n, perFile)
	return files
}
