package server

import (
	"strings"
	"testing"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func runningPod(ns, name, owner string, ready bool) reconcile.PodView {
	return reconcile.PodView{Namespace: ns, Name: name, Owner: owner, Phase: agentapi.PodRunning, Status: &agentapi.PodStatus{Phase: agentapi.PodRunning,
		Containers: []agentapi.ContainerStatus{{Name: "c", Ready: ready, State: agentapi.ContainerState{Running: &agentapi.StateRunning{}}}}}}
}

// TestObjectHealth: an application's health is its worst workload's, with
// the reason: a deadline exceeded or a crash-looping pod degrades it,
// missing replicas keep it progressing, and only its own objects count.
func TestObjectHealth(t *testing.T) {
	web := spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "default", Name: "web"}
	db := spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "default", Name: "db"}
	solo := spec.ObjectKey{Kind: spec.KindPod, Namespace: "default", Name: "solo"}
	ns := spec.ObjectKey{Kind: spec.KindNamespace, Name: "shop"}
	complete := func(name string, replicas, available int32) reconcile.WorkloadView {
		p := reconcile.ProgressComplete
		if available < replicas {
			p = reconcile.ProgressProgressing
		}
		return reconcile.WorkloadView{Kind: spec.KindDeployment, Namespace: "default", Name: name, Replicas: replicas, Available: available, UpToDate: available, Progress: p}
	}
	crash := runningPod("default", "db-1", db.String(), false)
	crash.Status.Containers[0].State = agentapi.ContainerState{Waiting: &agentapi.StateWaiting{Reason: "CrashLoopBackOff"}}
	for _, tc := range []struct {
		name      string
		owned     []spec.ObjectKey
		workloads []reconcile.WorkloadView
		pods      []reconcile.PodView
		health    string
		msg       string
	}{
		{"nothing to run", []spec.ObjectKey{ns}, nil, nil, api.HealthHealthy, ""},
		{"all available", []spec.ObjectKey{web, solo}, []reconcile.WorkloadView{complete("web", 2, 2)},
			[]reconcile.PodView{runningPod("default", "web-0", web.String(), true), runningPod("default", "solo", "", true)}, api.HealthHealthy, ""},
		{"replicas missing", []spec.ObjectKey{web}, []reconcile.WorkloadView{complete("web", 3, 1)}, nil, api.HealthProgressing, "Deployment default/web: 1/3 replicas available"},
		{"bare pod pending", []spec.ObjectKey{solo}, nil, []reconcile.PodView{{Namespace: "default", Name: "solo", Phase: agentapi.PodPending, Reason: "Unschedulable"}}, api.HealthProgressing, "pod default/solo is Unschedulable"},
		{"crash loop", []spec.ObjectKey{web, db}, []reconcile.WorkloadView{complete("web", 3, 1), complete("db", 1, 0)}, []reconcile.PodView{crash}, api.HealthDegraded, "Deployment default/db: pod default/db-1: container c: CrashLoopBackOff"},
		{"deadline", []spec.ObjectKey{web}, []reconcile.WorkloadView{{Kind: spec.KindDeployment, Namespace: "default", Name: "web", Replicas: 1, Progress: reconcile.ProgressDeadlineExceeded, Message: "pod web-x not available after 600s"}}, nil, api.HealthDegraded, "pod web-x not available after 600s"},
		{"failed pod", []spec.ObjectKey{solo}, nil, []reconcile.PodView{{Namespace: "default", Name: "solo", Phase: agentapi.PodFailed, Reason: "Error"}}, api.HealthDegraded, "pod default/solo failed: Error"},
		{"another application's trouble", []spec.ObjectKey{web}, []reconcile.WorkloadView{complete("web", 1, 1), complete("db", 1, 0)}, []reconcile.PodView{crash}, api.HealthHealthy, ""},
	} {
		h, msg, _ := objectHealth(tc.owned, tc.workloads, tc.pods)
		if h != tc.health || !strings.Contains(msg, tc.msg) || (tc.msg == "" && msg != "") {
			t.Errorf("%s: got %s %q, want %s %q", tc.name, h, msg, tc.health, tc.msg)
		}
	}
}

func TestNormalizeRepoURL(t *testing.T) {
	want := "github.com/octo/web"
	for _, u := range []string{"https://github.com/octo/web.git", "https://token:x@GitHub.com/octo/web", "git@github.com:octo/web.git", "ssh://git@github.com/octo/web.git", "https://github.com/octo/web/"} {
		if got := normalizeRepoURL(u); got != want {
			t.Errorf("%s → %s, want %s", u, got, want)
		}
	}
	if got := normalizeRepoURL("file:///srv/git/a.git/"); got != "/srv/git/a" {
		t.Errorf("file URL → %s", got)
	}
}
