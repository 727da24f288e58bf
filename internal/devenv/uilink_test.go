package devenv

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// TestUILink: make run's UI link signs in as the admin, with a token
// minted through the API (an in-process secured reconciler, no
// containerd).
func TestUILink(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "ns.yaml"), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "ns"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.com", "HOME="+repo)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	cfg := server.DefaultConfig()
	cfg.Source.URL, cfg.DataDir = repo, t.TempDir()
	cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.PollInterval = -1
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	conf, err := api.LoadClientConfig(filepath.Join(cfg.DataDir, "admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := api.NewClientFromConfig(conf, "")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Client: cl}
	ctx := context.Background()
	link, err := c.UILink(ctx)
	if err != nil {
		t.Fatal(err)
	}
	base, frag, ok := strings.Cut(link, "#token=")
	if !ok || base != s.APIURL()+api.PathUI {
		t.Fatalf("link %q", link)
	}
	token, _ := url.QueryUnescape(frag)
	tc, err := api.NewClientFromConfig(api.NewClientConfig("c", s.APIURL(), conf.Clusters[0].Cluster.CertificateAuthorityData, "u", api.UserConfig{Token: token}), "")
	if err != nil {
		t.Fatal(err)
	}
	who, err := tc.WhoAmI(ctx)
	admin, _ := cl.WhoAmI(ctx)
	if err != nil || who.Method != "token" || who.User != admin.User || !strings.Contains(strings.Join(who.Groups, ","), "system:masters") {
		t.Fatalf("the link's token signs in as %+v (%v), want the admin %+v", who, err, admin)
	}
	toks, err := cl.Tokens(ctx)
	if err != nil || len(toks) != 1 || toks[0].Expires.Sub(toks[0].Created) != uiTokenTTL {
		t.Fatalf("tokens: %+v, %v", toks, err)
	}
}
