package source

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/file"
)

// TestFetchFileInProcess: with the in-process file transport (what a
// reconciler without git uses), a bare repository given by its path is
// fetched, and a new commit is fetched again. Not parallel: the transport
// is process-wide, and restored before parallel tests run.
func TestFetchFileInProcess(t *testing.T) {
	useInProcessFileTransport()
	t.Cleanup(func() { client.InstallProtocol("file", file.DefaultClient) })
	u := newUpstream(t)
	c1 := u.commit("first", map[string]string{"pod.yaml": "kind: Pod\n"})
	u.push("main")
	s := newSource(t, Config{URL: u.Bare})
	rev, err := s.Fetch(ctxT(t))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if rev.Commit != c1 || string(rev.Files["pod.yaml"]) != "kind: Pod\n" {
		t.Fatalf("fetched %s with %v, want %s with pod.yaml", rev.Commit, rev.Files, c1)
	}
	c2 := u.commit("second", map[string]string{"svc.yaml": "kind: Service\n"})
	u.push("main")
	if rev, err = s.Fetch(ctxT(t)); err != nil || rev.Commit != c2 || len(rev.Files) != 2 {
		t.Fatalf("second Fetch: %v, commit %v", err, rev)
	}
}
