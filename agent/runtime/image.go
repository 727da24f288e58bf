package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"golang.org/x/sync/singleflight"

	"github.com/stevedore-dev/stevedore/spec"
)

// pullTimeout bounds one pull, shared by every container waiting on it.
const pullTimeout = 5 * time.Minute

// errImageNeverPull is a missing image with imagePullPolicy Never.
var errImageNeverPull = errors.New("image not present and imagePullPolicy is Never")

// normalizeRef expands a Docker-style reference ("busybox" →
// "docker.io/library/busybox:latest"), the name containerd stores.
func normalizeRef(image string) (string, error) {
	named, err := reference.ParseDockerRef(image)
	if err != nil {
		return "", fmt.Errorf("failed to parse image reference %q: %w", image, err)
	}
	return named.String(), nil
}

// pullPolicy is the container's policy, defaulted as Kubernetes does when
// the spec left it empty.
func pullPolicy(c spec.Container) string {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	named, err := reference.ParseNormalizedNamed(c.Image)
	if err != nil {
		return spec.PullIfNotPresent
	}
	if _, digested := named.(reference.Digested); digested {
		return spec.PullIfNotPresent
	}
	if t, tagged := named.(reference.Tagged); !tagged || t.Tag() == "latest" {
		return spec.PullAlways
	}
	return spec.PullIfNotPresent
}

// ensureImage returns the container's image, unpacked for the configured
// snapshotter, pulling it as its policy says. Concurrent pulls of one
// reference share a single pull (30 replicas starting at once pull once).
// pulling, when set, is called before this caller pulls (or joins a pull).
func (r *Runtime) ensureImage(ctx context.Context, c spec.Container, pulling func()) (client.Image, error) {
	ref, err := normalizeRef(c.Image)
	if err != nil {
		return nil, err
	}
	policy := pullPolicy(c)
	if policy != spec.PullAlways {
		if img := r.images.get(ref); img != nil {
			return img, nil
		}
		img, err := r.client.GetImage(ctx, ref)
		switch {
		case err == nil:
			if err := r.ensureUnpacked(ctx, img); err != nil {
				return nil, err
			}
			r.images.put(ref, img)
			return img, nil
		case !errdefs.IsNotFound(err):
			return nil, fmt.Errorf("failed to look up image %s: %w", ref, err)
		case policy == spec.PullNever:
			return nil, fmt.Errorf("failed to find image %s: %w", ref, errImageNeverPull)
		}
	}
	if pulling != nil {
		pulling()
	}
	// Count the pull before it starts, so Close waits for it even when the
	// caller gives up first; the relay goroutine ends with the pull.
	r.wg.Add(1)
	ch := r.pulls.DoChan(ref, func() (any, error) {
		// Detached from the caller: other containers may be waiting on
		// the same pull after this one gives up.
		pctx, cancel := context.WithTimeout(r.ctx, pullTimeout)
		defer cancel()
		start := time.Now()
		img, err := r.client.Pull(pctx, ref,
			client.WithPullUnpack,
			client.WithPullSnapshotter(r.cfg.Snapshotter),
			client.WithResolver(r.resolver))
		r.observePull(time.Since(start), err)
		if err != nil {
			return nil, fmt.Errorf("failed to pull image %s: %w", ref, err)
		}
		r.log.Debug("pulled image", "image", ref, "took", time.Since(start))
		r.images.put(ref, img)
		return img, nil
	})
	done := make(chan singleflight.Result, 1)
	go func() {
		defer r.wg.Done()
		done <- <-ch
	}()
	select {
	case res := <-done:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(client.Image), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// imageCache remembers images known to be present and unpacked, so that
// many containers of one image (IfNotPresent) cost one lookup, not one each.
// An entry is dropped when creating a container from it fails.
type imageCache struct {
	mu sync.Mutex
	m  map[string]client.Image
}

func (c *imageCache) get(ref string) client.Image {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[ref]
}

func (c *imageCache) put(ref string, img client.Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]client.Image{}
	}
	c.m[ref] = img
}

func (c *imageCache) forget(ref string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, ref)
}

func (r *Runtime) ensureUnpacked(ctx context.Context, img client.Image) error {
	ok, err := img.IsUnpacked(ctx, r.cfg.Snapshotter)
	if err != nil {
		return fmt.Errorf("failed to check image %s: %w", img.Name(), err)
	}
	if ok {
		return nil
	}
	if err := img.Unpack(ctx, r.cfg.Snapshotter); err != nil {
		return fmt.Errorf("failed to unpack image %s: %w", img.Name(), err)
	}
	return nil
}

// processArgs applies Kubernetes' rules: command replaces the image's
// entrypoint, args replaces its cmd, and a command without args drops the
// image's cmd. $(VAR) references in command and args (not in the image's
// entrypoint and cmd) are expanded from env, the container's environment
// ("K=V"), as the kubelet's ExpandContainerCommandAndArgs does: $$ is a
// literal $, and an unknown variable stays as written.
func processArgs(entrypoint, cmd []string, c spec.Container, env []string) []string {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v // a later duplicate wins, as in the kubelet
	}
	expand := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, s := range in {
			out = append(out, expandVars(s, func(n string) string {
				if v, ok := vars[n]; ok {
					return v
				}
				return "$(" + n + ")"
			}))
		}
		return out
	}
	switch {
	case len(c.Command) > 0:
		return append(expand(c.Command), expand(c.Args)...)
	case len(c.Args) > 0:
		return append(append([]string{}, entrypoint...), expand(c.Args)...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

// isNotFoundExec reports whether a task creation error means the
// executable is missing, which Docker reports with exit code 127.
func isNotFoundExec(err error) bool {
	s := err.Error()
	return strings.Contains(s, "executable file not found") || strings.Contains(s, "no such file or directory")
}
