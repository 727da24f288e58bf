package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// Image garbage collection, the kubelet's image GC manager: every image of
// the node's containerd namespace is tracked by content (its target
// digest, whatever names point at it) with when it was first detected and
// last used, and GarbageCollectImages removes the least recently used
// images that no container of the node uses and no pod of the node names.
// A container start records a use (imageStarted), and, as the kubelet
// detects it, an image with a container is used whenever the agent looks.
// The times are kept in the data dir
// (imagegc.json), so an agent restart neither forgets a use nor makes
// every image young again.

const imageGCFile = "imagegc.json"

// imageUse is what the GC remembers of one image (by target digest).
type imageUse struct {
	FirstDetected time.Time `json:"firstDetected"`
	LastUsed      time.Time `json:"lastUsed"`
}

// imageTracker is the persisted image use; one per Runtime.
type imageTracker struct {
	mu     sync.Mutex
	loaded bool
	uses   map[string]imageUse // by target digest
}

// gcImage is one image (every name of one target) as the GC sees it.
type gcImage struct {
	Digest string
	Names  []string
	Size   int64
	InUse  bool
	imageUse
}

// detectImages lists the namespace's images, marks those a container or
// a pod of the node uses, and updates (and persists) their use times.
func (r *Runtime) detectImages(ctx context.Context, now time.Time) ([]gcImage, error) {
	imgs, err := r.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to list images: %w", err)
	}
	used := map[string]bool{} // names and digests
	ctrs, err := r.client.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to list containers: %w", err)
	}
	for _, c := range ctrs {
		info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
		if err == nil && info.Image != "" {
			used[info.Image] = true
		}
	}
	for _, p := range r.Pods() {
		for _, c := range imagesOf(p) {
			if ref, err := normalizeRef(c); err == nil {
				used[ref] = true
			}
		}
	}
	byDigest := map[string]*gcImage{}
	var order []string
	for _, im := range imgs {
		if im.Name == gcTriggerImage {
			continue
		}
		d := im.Target.Digest.String()
		g := byDigest[d]
		if g == nil {
			g = &gcImage{Digest: d}
			byDigest[d] = g
			order = append(order, d)
			size, err := client.NewImage(r.client, im).Usage(ctx, client.WithSnapshotUsage())
			if err == nil {
				g.Size = size
			}
		}
		g.Names = append(g.Names, im.Name)
		if used[im.Name] {
			g.InUse = true
		}
	}
	t := &r.imageGC
	t.mu.Lock()
	defer t.mu.Unlock()
	r.loadImageUsesLocked()
	uses := make(map[string]imageUse, len(order))
	out := make([]gcImage, 0, len(order))
	for _, d := range order {
		g := byDigest[d]
		u, ok := t.uses[d]
		if !ok {
			u = imageUse{FirstDetected: now, LastUsed: now}
		}
		if g.InUse {
			u.LastUsed = now
		}
		uses[d] = u
		g.imageUse = u
		out = append(out, *g)
	}
	t.uses = uses
	r.saveImageUsesLocked()
	return out, nil
}

// imagesOf is the images the pod's containers and init containers name.
func imagesOf(p api.Pod) []string {
	var out []string
	for _, c := range p.Spec.InitContainers {
		out = append(out, c.Image)
	}
	for _, c := range p.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

func (r *Runtime) loadImageUsesLocked() {
	t := &r.imageGC
	if t.loaded {
		return
	}
	t.loaded = true
	b, err := os.ReadFile(filepath.Join(r.cfg.DataDir, imageGCFile))
	if err == nil {
		err = json.Unmarshal(b, &t.uses)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		r.log.Warn("failed to read image use times; starting afresh", "err", err)
	}
}

func (r *Runtime) saveImageUsesLocked() {
	b, err := json.Marshal(r.imageGC.uses)
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(r.cfg.DataDir, imageGCFile), b, 0o600)
	}
	if err != nil {
		r.log.Warn("failed to save image use times", "err", err)
	}
}

// GarbageCollectImages removes images that no container of the node uses
// and no pod of the node names, first detected at least minAge ago, least
// recently used first, until the sizes removed reach bytesToFree. Each
// removal is synchronous (containerd's garbage collector has removed the
// content and snapshots when it returns), so the space is free. It returns
// the bytes freed (the removed images' sizes).
func (r *Runtime) GarbageCollectImages(ctx context.Context, bytesToFree int64, minAge time.Duration) (int64, error) {
	ctx = r.nsCtx(ctx)
	now := time.Now()
	imgs, err := r.detectImages(ctx, now)
	if err != nil {
		return 0, err
	}
	sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].LastUsed.Before(imgs[j].LastUsed) })
	var freed int64
	var errs []error
	for _, g := range selectImagesToFree(imgs, bytesToFree, minAge, now) {
		var gerr error
		for i, name := range g.Names {
			opts := []images.DeleteOpt{}
			if i == len(g.Names)-1 {
				opts = append(opts, images.SynchronousDelete())
			}
			if err := r.client.ImageService().Delete(ctx, name, opts...); err != nil && !errdefs.IsNotFound(err) {
				gerr = fmt.Errorf("failed to remove image %s: %w", name, err)
			}
			r.images.forget(name)
		}
		if gerr != nil {
			errs = append(errs, gerr)
			continue
		}
		r.log.Info("removed unused image", "image", g.Names, "size", g.Size, "lastUsed", g.LastUsed)
		freed += g.Size
	}
	return freed, errors.Join(errs...)
}

// selectImagesToFree picks, from images sorted least recently used
// first, those GC may remove (unused, detected at least minAge before
// now) until their sizes reach bytesToFree.
func selectImagesToFree(imgs []gcImage, bytesToFree int64, minAge time.Duration, now time.Time) []gcImage {
	var out []gcImage
	var sum int64
	for _, g := range imgs {
		if sum >= bytesToFree {
			break
		}
		if g.InUse || now.Sub(g.FirstDetected) < minAge {
			continue
		}
		out = append(out, g)
		sum += g.Size
	}
	return out
}

// Images lists the node's images with their size, last use and whether a
// pod uses them (GET /v1/node's NodeStatus.Images).
func (r *Runtime) Images(ctx context.Context) ([]api.Image, error) {
	imgs, err := r.detectImages(r.nsCtx(ctx), time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]api.Image, 0, len(imgs))
	for _, g := range imgs {
		out = append(out, api.Image{Names: g.Names, Size: g.Size, LastUsed: g.LastUsed, InUse: g.InUse})
	}
	return out, nil
}

// ImageFsPath is the root of the configured snapshotter, as containerd's
// introspection reports it: the file system images and writable layers
// fill.
func (r *Runtime) ImageFsPath(ctx context.Context) (string, error) {
	resp, err := r.client.IntrospectionService().Plugins(r.nsCtx(ctx), "type==io.containerd.snapshotter.v1,id=="+r.cfg.Snapshotter)
	if err != nil {
		return "", fmt.Errorf("failed to ask containerd for the snapshotter's root: %w", err)
	}
	for _, p := range resp.Plugins {
		if root := p.Exports["root"]; root != "" {
			return root, nil
		}
	}
	return "", fmt.Errorf("failed to find snapshotter %s's root: %w", r.cfg.Snapshotter, ErrNotFound)
}

// nsCtx gives ctx the runtime's containerd namespace.
func (r *Runtime) nsCtx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// gcTriggerImage names the placeholder image collectGarbage creates and
// deletes.
const gcTriggerImage = "stevedore.invalid/gc-trigger:latest"

// collectGarbage runs containerd's garbage collector and waits for it, so
// that the snapshots of containers just removed are gone from the disk
// when it returns: containerd collects only after an image deletion
// asked to wait (images.SynchronousDelete), so a placeholder image (its
// target need not exist) is created and deleted that way.
func (r *Runtime) collectGarbage(ctx context.Context) error {
	is := r.client.ImageService()
	target := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(gcTriggerImage), Size: 1}
	if _, err := is.Create(ctx, images.Image{Name: gcTriggerImage, Target: target}); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create the GC trigger image: %w", err)
	}
	if err := is.Delete(ctx, gcTriggerImage, images.SynchronousDelete()); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to run containerd's garbage collector: %w", err)
	}
	return nil
}

// imageUseResolution is how stale a recorded last use may be before a
// container start writes it again (a start writes imagegc.json at most
// once a minute per image).
const imageUseResolution = time.Minute

// imageStarted records that a container just started from img.
func (r *Runtime) imageStarted(img client.Image) {
	d := img.Target().Digest.String()
	now := time.Now()
	t := &r.imageGC
	t.mu.Lock()
	defer t.mu.Unlock()
	r.loadImageUsesLocked()
	u, ok := t.uses[d]
	if ok && now.Sub(u.LastUsed) < imageUseResolution {
		return
	}
	if !ok {
		u.FirstDetected = now
	}
	u.LastUsed = now
	if t.uses == nil {
		t.uses = map[string]imageUse{}
	}
	t.uses[d] = u
	r.saveImageUsesLocked()
}
