package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestCompletionAndVersionAgainstRealServer completes names and asks the
// version of a real reconciler (no agents) tracking a real repository.
func TestCompletionAndVersionAgainstRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "shop: web with 2 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1)})
	_, url := startReconciler(t, repo, nil)

	// The reconciler runs in this test binary: same build info.
	code, out, errOut := ctl(t, url, "version")
	if want := "Server Version: " + version.Get().String() + "\n"; code != 0 || !strings.HasSuffix(out, want) {
		t.Errorf("version = %d %q\n%s\nwant a line %q", code, errOut, out, want)
	}

	if code, out, errOut = ctl(t, url, "sync", "--wait", "--timeout", "10s"); code != 1 {
		// No agents: the pods stay Pending, which sync --wait reports.
		t.Fatalf("sync = %d %q %q", code, out, errOut)
	}
	cl, err := api.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := cl.Pods(context.Background(), "shop")
	if err != nil || len(l) != 2 {
		t.Fatalf("pods of shop: %v, %v", l, err)
	}
	var pods []string
	for _, p := range l {
		pods = append(pods, p.Name)
	}
	slices.Sort(pods)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"get", "pods", "-n", "shop", ""}, pods},
		{[]string{"describe", "pod", "-n", "shop", "web-"}, pods},
		{[]string{"logs", "--namespace", "shop", ""}, pods},
		{[]string{"get", "pods", ""}, nil}, // namespace default has none
		{[]string{"get", "deployments", "-n", "shop", ""}, []string{"web"}},
		{[]string{"get", "pods", "-n", ""}, []string{"default", "shop"}},
		{[]string{"cordon", ""}, nil}, // no agents, no nodes
	} {
		words, directive, _ := completeWords(t, url, tc.args...)
		if !slices.Equal(words, tc.want) && !(len(words) == 0 && len(tc.want) == 0) || directive != ":4" {
			t.Errorf("complete %q = %q %s, want %q", tc.args, words, directive, tc.want)
		}
	}
}
