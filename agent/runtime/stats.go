package runtime

import (
	"context"
	"fmt"
	"sort"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/stats"
	"github.com/stevedore-dev/stevedore/spec"
)

var _ stats.Source = (*Runtime)(nil)

// StatsPods lists the pods and their running containers for the stats
// collector, from the runtime's own state: it makes no containerd call.
func (r *Runtime) StatsPods(ctx context.Context) ([]stats.Pod, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The paths are taken under the lock; the file system is read after
	// it (the collector runs every interval beside the pod workers).
	type pending struct {
		pod, ctr int
		logDir   string
		w        *podWorker
	}
	var files []pending
	r.mu.Lock()
	pods := make([]stats.Pod, 0, len(r.pods))
	for _, w := range r.pods {
		p := stats.Pod{Namespace: w.pod.Namespace, Name: w.pod.Name, UID: w.pod.UID}
		for _, list := range [][]*ctr{w.inits, w.ctrs} {
			for _, c := range list {
				run := c.st.State.Running
				if run == nil {
					continue
				}
				files = append(files, pending{len(pods), len(p.Containers), w.logDir(c.spec.Name), w})
				p.Containers = append(p.Containers, stats.Container{Name: c.spec.Name, ID: c.id, StartTime: run.StartedAt})
			}
		}
		for _, v := range w.pod.Spec.Volumes {
			if v.EmptyDir != nil && v.EmptyDir.Medium != spec.StorageMediumMemory {
				p.EmptyDirs = append(p.EmptyDirs, w.volumeDir(v.Name))
			}
		}
		pods = append(pods, p)
	}
	r.mu.Unlock()
	for _, f := range files {
		c := &pods[f.pod].Containers[f.ctr]
		c.CgroupPath = f.w.containerCgroup(c.ID)
		c.LogFiles = stats.LogFiles(f.logDir)
	}
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	return pods, nil
}

// RootfsUsage is a container's writable layer: the snapshotter's Usage of
// the active snapshot the container was created with (its key is the
// container's ID).
func (r *Runtime) RootfsUsage(ctx context.Context, containerID string) (api.FsStats, error) {
	u, err := r.client.SnapshotService(r.cfg.Snapshotter).Usage(r.nsCtx(ctx), containerID)
	if err != nil {
		return api.FsStats{}, fmt.Errorf("failed to read snapshot usage of %s: %w", containerID, err)
	}
	return api.FsStats{UsedBytes: uint64(max(u.Size, 0)), InodesUsed: uint64(max(u.Inodes, 0))}, nil
}

// NodeImages lists the images in the runtime's containerd namespace with
// their unpacked size, and whether a pod on the node uses them. Names of
// one image (same target) are grouped.
func (r *Runtime) NodeImages(ctx context.Context) ([]api.Image, error) {
	out, err := r.Images(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Size > out[j].Size })
	return out, nil
}
