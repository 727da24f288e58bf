package devenv

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is where Debian's busybox-static installs its static binary.
const BusyboxPath = "/bin/busybox"

// epoch is every file's mtime in the layers we build, so the same inputs
// give the same digests (and containerd does not re-pull an unchanged image).
var epoch = time.Unix(0, 0).UTC()

// busyboxLayer caches the busybox layer: building it reads 2 MB and gzips it.
var busyboxLayer struct {
	once  sync.Once
	layer v1.Layer
	err   error
}

// tarEntry is one file, directory or symlink of a layer.
type tarEntry struct {
	name     string
	mode     int64
	typ      byte
	linkname string
	data     []byte
}

// buildLayer renders entries as an OCI (gzip) layer.
func buildLayer(entries []tarEntry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.name, Mode: e.mode, Typeflag: e.typ, Linkname: e.linkname,
			Size: int64(len(e.data)), ModTime: epoch, Format: tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("failed to write tar header %s: %w", e.name, err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				return nil, fmt.Errorf("failed to write tar entry %s: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("failed to close tar: %w", err)
	}
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("failed to build layer: %w", err)
	}
	return layer, nil
}

// getBusyboxLayer returns a layer holding /bin/busybox, a symlink for each
// of its applets under /bin, and the directories a container expects.
func getBusyboxLayer() (v1.Layer, error) {
	busyboxLayer.once.Do(func() {
		bin, err := os.ReadFile(BusyboxPath)
		if err != nil {
			busyboxLayer.err = fmt.Errorf("failed to read %s (install the Debian package busybox-static): %w", BusyboxPath, err)
			return
		}
		out, err := exec.Command(BusyboxPath, "--list").Output()
		if err != nil {
			busyboxLayer.err = fmt.Errorf("failed to list busybox applets: %w", err)
			return
		}
		entries := []tarEntry{}
		for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root", "var", "usr", "usr/local", "usr/local/bin"} {
			mode := int64(0o755)
			if d == "tmp" {
				mode = 0o1777
			}
			entries = append(entries, tarEntry{name: d + "/", mode: mode, typ: tar.TypeDir})
		}
		entries = append(entries,
			tarEntry{name: "etc/passwd", mode: 0o644, typ: tar.TypeReg, data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
			tarEntry{name: "etc/group", mode: 0o644, typ: tar.TypeReg, data: []byte("root:x:0:\nnobody:x:65534:\n")},
			tarEntry{name: "bin/busybox", mode: 0o755, typ: tar.TypeReg, data: bin},
		)
		for _, applet := range strings.Fields(string(out)) {
			if applet == "busybox" || strings.Contains(applet, "/") {
				continue
			}
			entries = append(entries, tarEntry{name: "bin/" + applet, mode: 0o777, typ: tar.TypeSymlink, linkname: "busybox"})
		}
		busyboxLayer.layer, busyboxLayer.err = buildLayer(entries)
	})
	return busyboxLayer.layer, busyboxLayer.err
}

// image assembles an OCI image from layers with the given entrypoint and cmd.
func image(layers []v1.Layer, entrypoint, cmd []string) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("failed to append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("failed to read image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = cmd
	// The usual PATH of an image (the redis image has its binaries in
	// /usr/bin).
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cf.Config.WorkingDir = "/"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("failed to set image config: %w", err)
	}
	return img, nil
}

// push writes img to ref over plain HTTP (the registries here are loopback
// and insecure).
func push(ctx context.Context, ref string, img v1.Image) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("failed to parse image reference %q: %w", ref, err)
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("failed to push %s: %w", ref, err)
	}
	return nil
}

// BusyboxImage builds an image of the host's static busybox (Cmd ["sh"]) and
// pushes it to ref, e.g. "127.0.0.1:5000/stevedore/busybox:1.35".
func BusyboxImage(ctx context.Context, ref string) error {
	layer, err := getBusyboxLayer()
	if err != nil {
		return err
	}
	img, err := image([]v1.Layer{layer}, nil, []string{"sh"})
	if err != nil {
		return err
	}
	return push(ctx, ref, img)
}

// GoImage builds the Go main package in pkgDir as a static binary
// (CGO_ENABLED=0), puts it at /usr/local/bin/<dir name> on top of the busybox
// layer as the entrypoint, and pushes the image to ref.
func GoImage(ctx context.Context, ref, pkgDir string) error {
	base, err := getBusyboxLayer()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return fmt.Errorf("failed to resolve %s: %w", pkgDir, err)
	}
	binName := filepath.Base(abs)
	tmp, err := os.MkdirTemp("", "goimage-")
	if err != nil {
		return fmt.Errorf("failed to create build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, binName)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("failed to build %s: %w\n%s", pkgDir, err, b)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return fmt.Errorf("failed to read built binary: %w", err)
	}
	layer, err := buildLayer([]tarEntry{
		{name: "usr/", mode: 0o755, typ: tar.TypeDir},
		{name: "usr/local/", mode: 0o755, typ: tar.TypeDir},
		{name: "usr/local/bin/", mode: 0o755, typ: tar.TypeDir},
		{name: "usr/local/bin/" + binName, mode: 0o755, typ: tar.TypeReg, data: bin},
	})
	if err != nil {
		return err
	}
	img, err := image([]v1.Layer{base, layer}, []string{"/usr/local/bin/" + binName}, nil)
	if err != nil {
		return err
	}
	return push(ctx, ref, img)
}

// TagImage gives the image at src (in a local, plain-HTTP registry) a
// second reference dst: the same manifest under another tag, as a new
// release of an unchanged image would be. Tests use it to roll a
// Deployment to a new image reference without building one.
func TagImage(ctx context.Context, src, dst string) error {
	from, err := name.ParseReference(src, name.Insecure)
	if err != nil {
		return fmt.Errorf("failed to parse image reference %s: %w", src, err)
	}
	to, err := name.NewTag(dst, name.Insecure)
	if err != nil {
		return fmt.Errorf("failed to parse image tag %s: %w", dst, err)
	}
	desc, err := remote.Get(from, remote.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("failed to get image %s: %w", src, err)
	}
	if err := remote.Tag(to, desc, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("failed to tag %s as %s: %w", src, dst, err)
	}
	return nil
}
