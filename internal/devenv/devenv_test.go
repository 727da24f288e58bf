package devenv

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stevedore-dev/stevedore/sync/webhook"
)

func TestRegistryImages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg, err := StartRegistry(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	defer reg.Stop() // safe twice

	bb := reg.Addr + "/stevedore/busybox:1.35"
	if err := BusyboxImage(ctx, bb); err != nil {
		t.Fatal(err)
	}
	hello := reg.Addr + "/stevedore/hello:v1"
	if err := GoImage(ctx, hello, "../../examples-repo/images/hello"); err != nil {
		t.Fatal(err)
	}

	ref, _ := name.ParseReference(bb, name.Insecure)
	img, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Config.Cmd; len(got) != 1 || got[0] != "sh" {
		t.Errorf("busybox Cmd = %q, want [sh]", got)
	}
	mt, _ := img.MediaType()
	if mt != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("media type = %s, want an OCI manifest", mt)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Fatalf("busybox has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found[h.Name] = h.Linkname
	}
	rc.Close()
	if _, ok := found["bin/busybox"]; !ok {
		t.Error("bin/busybox missing from the layer")
	}
	if found["bin/sh"] != "busybox" || found["bin/wget"] != "busybox" {
		t.Errorf("applet symlinks missing: sh→%q wget→%q", found["bin/sh"], found["bin/wget"])
	}

	ref, _ = name.ParseReference(hello, name.Insecure)
	img, err = remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ = img.ConfigFile()
	if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/usr/local/bin/hello" {
		t.Errorf("hello Entrypoint = %q", got)
	}
	if layers, _ := img.Layers(); len(layers) != 2 {
		t.Errorf("hello has %d layers, want busybox + binary", len(layers))
	}

	// Building the same image twice gives the same digest: unchanged images
	// are not re-pulled.
	d1, _ := img.Digest()
	if err := GoImage(ctx, hello, "../../examples-repo/images/hello"); err != nil {
		t.Fatal(err)
	}
	img, _ = remote.Image(ref, remote.WithContext(ctx))
	if d2, _ := img.Digest(); d1 != d2 {
		t.Errorf("rebuild changed the digest: %s → %s", d1, d2)
	}
}

func TestGitRepoWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const secret = "s3cret"
	type push struct {
		Ref   string `json:"ref"`
		After string `json:"after"`
	}
	got := make(chan push, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		want := webhook.Sign(secret, body)
		if r.Header.Get("X-Hub-Signature-256") != want || r.Header.Get("X-GitHub-Event") != "push" {
			t.Errorf("bad signature or event: %q %q (body %s)", r.Header.Get("X-Hub-Signature-256"), r.Header.Get("X-GitHub-Event"), body)
		}
		var p push
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("bad payload %s: %v", body, err)
		}
		got <- p
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	dir := t.TempDir()
	g, err := NewGitRepo(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetWebhook(srv.URL+"/v1/webhook", secret); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "apps"), 0o755)
	os.WriteFile(filepath.Join(src, "apps", "a.yaml"), []byte("image: 127.0.0.1:5000/x\n"), 0o644)
	hash, err := g.Seed(ctx, src, "seed", func(path string, b []byte) []byte {
		return []byte(string(b) + "# rewritten\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.Ref != "refs/heads/main" || p.After != hash {
			t.Errorf("push = %+v, want main at %s", p, hash)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook call")
	}
	// The bare repository holds the rewritten file at that commit.
	out, err := git(ctx, g.Bare, "show", hash+":apps/a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if out != "image: 127.0.0.1:5000/x\n# rewritten" {
		t.Errorf("file at %s = %q", hash, out)
	}
	h2, err := g.Commit(ctx, "delete", map[string][]byte{"apps/a.yaml": nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := git(ctx, g.Bare, "show", h2+":apps/a.yaml"); err == nil {
		t.Error("file still present after delete")
	}
	<-got
}

// TestGitRepoWebhookHandler checks the hook against the reconciler's own
// webhook handler: signature, event and ref are what it accepts.
func TestGitRepoWebhookHandler(t *testing.T) {
	t.Run("curl", testWebhookHandler)
	t.Run("busybox wget", func(t *testing.T) {
		// A PATH with everything the hook needs except curl.
		dir := t.TempDir()
		for _, b := range []string{"git", "openssl", "busybox", "sh", "cut"} {
			p, err := exec.LookPath(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p, filepath.Join(dir, b)); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("PATH", dir)
		testWebhookHandler(t)
	})
}

func testWebhookHandler(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	triggered := make(chan struct{}, 4)
	srv := httptest.NewServer(webhook.Handler(webhook.Config{Secret: "k3y", Branch: "main"}, func() {
		triggered <- struct{}{}
	}))
	defer srv.Close()
	g, err := NewGitRepo(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetWebhook(srv.URL, "k3y"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Commit(ctx, "one", map[string][]byte{"a.yaml": []byte("x: 1\n")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-triggered:
	case <-time.After(10 * time.Second):
		t.Fatal("the webhook handler did not accept the hook's call")
	}
	// A hook signing with the wrong secret is refused.
	if err := g.SetWebhook(srv.URL, "wrong"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Commit(ctx, "two", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-triggered:
		t.Fatal("a wrongly signed call triggered a sync")
	case <-time.After(2 * time.Second):
	}
}

// A hook given several URLs tries them in order: a reconciler that is down
// does not lose the notification.
func TestGitRepoWebhookFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	triggered := make(chan struct{}, 4)
	srv := httptest.NewServer(webhook.Handler(webhook.Config{Secret: "k3y", Branch: "main"}, func() {
		triggered <- struct{}{}
	}))
	defer srv.Close()
	dead, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGitRepo(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetWebhook("http://"+dead+"/v1/webhook,"+srv.URL, "k3y"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Commit(ctx, "one", map[string][]byte{"a.yaml": []byte("x: 1\n")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-triggered:
	case <-time.After(10 * time.Second):
		t.Fatal("the second URL was never called")
	}
}

// Link names fit the kernel's 15 bytes and differ between prefixes.
func TestHostNetNames(t *testing.T) {
	a := newHostNet("a-rather-long-node-prefix", netip.MustParsePrefix("10.201.0.0/24"))
	b := newHostNet("other", netip.MustParsePrefix("10.202.0.0/24"))
	for _, n := range []string{a.bridge(), a.veth("r1"), a.veth("a150")} {
		if len(n) > 15 {
			t.Errorf("link name %q is longer than 15 bytes", n)
		}
	}
	if a.bridge() == b.bridge() || a.nsName("a1") == b.nsName("a1") {
		t.Errorf("two prefixes share names: %s %s", a.bridge(), a.nsName("a1"))
	}
	if got := a.host(firstAgentHost + 2).String(); got != "10.201.0.103" {
		t.Errorf("agent 3's address = %s", got)
	}
	if got := a.gateway().String(); got != "10.201.0.1" {
		t.Errorf("gateway = %s", got)
	}
}
