package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// pagePod is a pod view of the paging tests; terminating marks an old
// incarnation (sorted before the current one of the same name).
func pagePod(ns, name, uid string, terminating bool, labels map[string]string) reconcile.PodView {
	p := reconcile.PodView{UID: uid, Namespace: ns, Name: name, Node: "n1", Phase: "Running", Labels: labels,
		Spec: spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "registry.local/x:1"}}}}
	if terminating {
		p.Reason = reconcile.ReasonTerminating
	}
	return p
}

// pageViews are pods of three namespaces, sorted as a plan sorts them,
// with two terminating incarnations beside their current ones.
func pageViews() []reconcile.PodView {
	var vs []reconcile.PodView
	for _, ns := range []string{"a", "b", "c"} {
		for i := range 7 {
			name := fmt.Sprintf("web-%d", i)
			labels := map[string]string{"app": "web", "even": fmt.Sprint(i%2 == 0)}
			if ns == "b" && (i == 2 || i == 3) {
				vs = append(vs, pagePod(ns, name, ns+name+"-old", true, labels))
			}
			vs = append(vs, pagePod(ns, name, ns+name, false, labels))
		}
	}
	return vs
}

func pageServer(views []reconcile.PodView) *Server {
	s := &Server{store: newStore(), log: slog.Default()}
	s.view.Store(&view{leader: true, token: 3, podsSeq: 1, views: views})
	return s
}

// listPage GETs /v1/pods with q and decodes the answer.
func listPage(t *testing.T, s *Server, q url.Values) api.PodList {
	t.Helper()
	code, body := getFrom(t, s.handlePods, api.PathPods+"?"+q.Encode())
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", q.Encode(), code, body)
	}
	var l api.PodList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return l
}

func podKeys(ps []api.Pod) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Namespace + "/" + p.Name + "@" + p.UID
	}
	return out
}

// TestPodPages: for every filter and limit, the pages cover exactly the
// unpaged list, in its order, each full but the last, the last without a
// continue token; remainingItemCount counts what follows when no filter
// but the namespace applies, and is absent otherwise.
func TestPodPages(t *testing.T) {
	t.Parallel()
	s := pageServer(pageViews())
	for _, filter := range []url.Values{
		{},
		{"namespace": {"b"}},
		{"namespace": {"zz"}},
		{api.QueryLabelSelector: {"even=true"}},
		{api.QueryFieldSelector: {"metadata.name!=web-3"}},
		{api.QueryFilter: {"WEB-2"}},
		{"namespace": {"b"}, api.QueryFilter: {"web-3"}, api.QueryView: {api.ViewSummary}},
	} {
		whole := listPage(t, s, filter)
		if whole.Continue != "" || whole.ResourceVersion != "" {
			t.Fatalf("%v unpaged: continue %q, resourceVersion %q: want neither", filter, whole.Continue, whole.ResourceVersion)
		}
		unfiltered := len(filter) == 0 || (len(filter) == 1 && filter.Has("namespace"))
		for _, limit := range []int{1, 2, 3, 7, len(whole.Pods), len(whole.Pods) + 1, 100} {
			if limit == 0 {
				continue
			}
			q := url.Values{}
			for k, v := range filter {
				q[k] = v
			}
			q.Set(api.QueryLimit, fmt.Sprint(limit))
			var got []api.Pod
			for pages := 0; ; pages++ {
				if pages > len(whole.Pods)+1 {
					t.Fatalf("%v limit %d: more pages than pods", filter, limit)
				}
				l := listPage(t, s, q)
				got = append(got, l.Pods...)
				if l.ResourceVersion != "3.1" {
					t.Errorf("%v limit %d: resourceVersion %q, want 3.1", filter, limit, l.ResourceVersion)
				}
				if l.Continue == "" {
					if l.RemainingItemCount != nil {
						t.Errorf("%v limit %d: the last page counts %d remaining", filter, limit, *l.RemainingItemCount)
					}
					break
				}
				if len(l.Pods) != limit {
					t.Errorf("%v limit %d: a page with a continue token holds %d pods", filter, limit, len(l.Pods))
				}
				switch want := int64(len(whole.Pods) - len(got)); {
				case !unfiltered && l.RemainingItemCount != nil:
					t.Errorf("%v limit %d: remainingItemCount %d with a filter", filter, limit, *l.RemainingItemCount)
				case unfiltered && (l.RemainingItemCount == nil || *l.RemainingItemCount != want):
					t.Errorf("%v limit %d: remainingItemCount %v, want %d", filter, limit, l.RemainingItemCount, want)
				}
				q.Set(api.QueryContinue, l.Continue)
			}
			if !slices.Equal(podKeys(got), podKeys(whole.Pods)) {
				t.Errorf("%v limit %d: pages hold\n%v\nwant\n%v", filter, limit, podKeys(got), podKeys(whole.Pods))
			}
			if filter.Has(api.QueryView) && len(got) > 0 && got[0].Spec.Containers != nil {
				t.Errorf("%v: a summary page carries the spec", filter)
			}
		}
	}
	// A continue token without a limit lists the rest.
	first := listPage(t, s, url.Values{api.QueryLimit: {"5"}})
	rest := listPage(t, s, url.Values{api.QueryContinue: {first.Continue}})
	if len(rest.Pods) != len(pageViews())-5 || rest.Continue != "" {
		t.Errorf("continue without limit: %d pods, continue %q; want the other %d", len(rest.Pods), rest.Continue, len(pageViews())-5)
	}
}

// TestPodPagesViewChange: a token cut from a view the leader has replaced
// continues in the current view after the token's last pod: the pods
// added before it are not listed, those added after are, a pod deleted
// after it is not, nothing is listed twice, and the resourceVersion
// changes, saying the pages are of two instants.
func TestPodPagesViewChange(t *testing.T) {
	t.Parallel()
	views := pageViews()
	s := pageServer(views)
	first := listPage(t, s, url.Values{api.QueryLimit: {"8"}, "namespace": {"b"}})
	last := first.Pods[len(first.Pods)-1]
	if last.Name != "web-5" || last.Namespace != "b" || first.Continue == "" {
		// 8 of b's 9: web-0, web-1, web-2 (old, current), web-3 (old,
		// current), web-4, web-5.
		t.Fatalf("first page ends at %s/%s (continue %q), want b/web-5 and a token", last.Namespace, last.Name, first.Continue)
	}
	// The next plan: b/web-2's old incarnation is gone, b/web-10 (before
	// web-5 in order) and b/web-9 (after) are new, a/web-0 changed. A
	// terminating incarnation of b/web-5 appears before the current one,
	// already listed: it is not listed either.
	var next []reconcile.PodView
	for _, p := range views {
		if p.UID == "bweb-2-old" {
			continue
		}
		if p.UID == "aweb-0" {
			p.Phase = "Failed"
		}
		next = append(next, p)
	}
	next = append(next, pagePod("b", "web-10", "bweb-10", false, nil), pagePod("b", "web-9", "bweb-9", false, nil),
		pagePod("b", "web-5", "bweb-5-older", true, nil))
	slices.SortFunc(next, func(a, b reconcile.PodView) int {
		return comparePodKey(&a, &pageToken{Namespace: b.Namespace, Name: b.Name, Terminating: b.Terminating(), UID: b.UID})
	})
	s.view.Store(&view{leader: true, token: 3, podsSeq: 2, views: next})
	rest := listPage(t, s, url.Values{api.QueryLimit: {"100"}, "namespace": {"b"}, api.QueryContinue: {first.Continue}})
	if got, want := podKeys(rest.Pods), []string{"b/web-6@bweb-6", "b/web-9@bweb-9"}; !slices.Equal(got, want) {
		t.Errorf("after the view changed: %v, want %v", got, want)
	}
	if rest.ResourceVersion != "3.2" || first.ResourceVersion != "3.1" {
		t.Errorf("resourceVersions %q then %q, want 3.1 then 3.2", first.ResourceVersion, rest.ResourceVersion)
	}
	// All namespaces: the walk goes on into c, unchanged.
	all := listPage(t, s, url.Values{api.QueryLimit: {"100"}, api.QueryContinue: {first.Continue}})
	if n := len(all.Pods); n != 9 || all.Pods[1].Name != "web-9" || all.Pods[2].Namespace != "c" {
		t.Errorf("after the view changed, all namespaces: %v", podKeys(all.Pods))
	}
}

// TestPodPagesBadInput: a bad limit or token is a 400 naming the
// parameter; paging a watch is refused the same way.
func TestPodPagesBadInput(t *testing.T) {
	t.Parallel()
	s := pageServer(pageViews())
	notJSON := base64.RawURLEncoding.EncodeToString([]byte("web-3"))
	noName := base64.RawURLEncoding.EncodeToString([]byte(`{"rv":"3.1"}`))
	for _, tc := range []struct{ query, want string }{
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"limit=1.5", "limit"},
		{"continue=not*base64", "continue"},
		{"continue=" + notJSON, "continue"},
		{"continue=" + noName, "continue"},
		{"limit=5&watch=1", "watch"},
		{"continue=" + pageToken{Namespace: "a", Name: "web-1", UID: "aweb-1"}.encode() + "&watch=1", "watch"},
	} {
		code, body := getFrom(t, s.handlePods, api.PathPods+"?"+tc.query)
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("?%s: %d %s, want 400 naming %s", tc.query, code, body, tc.want)
		}
	}
	// limit=0 is no limit, as in Kubernetes: one answer of every pod.
	if l := listPage(t, s, url.Values{api.QueryLimit: {"0"}}); len(l.Pods) != len(pageViews()) || l.Continue != "" {
		t.Errorf("limit=0: %d pods, continue %q", len(l.Pods), l.Continue)
	}
}

// TestPodPagesClientWalk: api.Client's walk over the real handler lists,
// page by page, what one unpaged answer lists.
func TestPodPagesClientWalk(t *testing.T) {
	t.Parallel()
	s := pageServer(pageViews())
	srv := httptest.NewServer(http.HandlerFunc(s.handlePods))
	defer srv.Close()
	c, err := api.NewClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []api.ListFilter{{}, {Namespace: "b"}, {LabelSelector: "even=false", Summary: true}} {
		whole, err := c.PodsFiltered(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		pages := 0
		var got []api.Pod
		err = c.EachPodsPage(ctx, f, 4, func(l *api.PodList) error {
			pages++
			got = append(got, l.Pods...)
			return nil
		})
		if err != nil || !slices.Equal(podKeys(got), podKeys(whole)) || pages != (len(whole)+3)/4 {
			t.Errorf("%+v: %d pages of %v (%v), want %v", f, pages, podKeys(got), err, podKeys(whole))
		}
	}
}

// TestPodsVersion: a page's resourceVersion names the view's pods: a view
// published again with the same pods (a node's push state changed) keeps
// it, a plan that changed a pod's view makes a new one.
func TestPodsVersion(t *testing.T) {
	s, c := benchGetLeader(t, 3, 300)
	v1 := s.view.Load()
	c.publish()
	v2 := s.view.Load()
	if v2 == v1 || v2.podsVersion() != v1.podsVersion() {
		t.Errorf("a view published again with the same pods: resourceVersion %q then %q (same view: %v)", v1.podsVersion(), v2.podsVersion(), v2 == v1)
	}
	// A node stops reporting one of its pods: the next plan changes its view.
	c.mu.Lock()
	for n, ps := range c.observed {
		c.observed[n] = ps[1:]
		break
	}
	c.mu.Unlock()
	c.planOnce()
	v3 := s.view.Load()
	if sameViews(v3.views, v2.views) {
		t.Fatal("the plan changed no pod view")
	}
	if v3.podsVersion() == v2.podsVersion() || !strings.HasPrefix(v3.podsVersion(), strconv.FormatUint(v3.token, 10)+".") {
		t.Errorf("pods changed: resourceVersion %q then %q, want a new one of term token %d", v2.podsVersion(), v3.podsVersion(), v3.token)
	}
}

// TestPodPagesTokenInNamespace: a token only says where to start inside
// the namespace the request names (what authorization checked): one cut
// from another namespace, or made up, never lists another's pods.
func TestPodPagesTokenInNamespace(t *testing.T) {
	t.Parallel()
	s := pageServer(pageViews())
	ofC := pageToken{Namespace: "c", Name: "web-3", UID: "cweb-3"}.encode()
	ofA := pageToken{Namespace: "a", Name: "web-3", UID: "aweb-3"}.encode()
	if l := listPage(t, s, url.Values{"namespace": {"a"}, api.QueryLimit: {"3"}, api.QueryContinue: {ofC}}); len(l.Pods) != 0 || l.Continue != "" {
		t.Errorf("namespace a after c/web-3: %v, continue %q; want nothing", podKeys(l.Pods), l.Continue)
	}
	l := listPage(t, s, url.Values{"namespace": {"c"}, api.QueryLimit: {"100"}, api.QueryContinue: {ofA}})
	if len(l.Pods) != 7 || l.Pods[0].Namespace != "c" || l.Pods[6].Namespace != "c" {
		t.Errorf("namespace c after a/web-3: %v; want c's 7 pods", podKeys(l.Pods))
	}
}
