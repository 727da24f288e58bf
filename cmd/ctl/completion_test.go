package main

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// completeWords runs `ctl __complete args...` (what the shell scripts call) and
// returns the offered words and the directive line.
func completeWords(t *testing.T, server string, args ...string) ([]string, string, string) {
	t.Helper()
	code, out, errOut := ctl(t, server, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v = %d %q", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	directive := lines[len(lines)-1]
	words := lines[:len(lines)-1]
	for i, w := range words {
		words[i], _, _ = strings.Cut(w, "\t") // drop descriptions
	}
	return words, directive, errOut
}

func TestCompletion(t *testing.T) {
	f := &fakeReconciler{
		pods:  [][]api.Pod{{running("web-1", "node-a", "10.88.0.2", 0), running("web-2", "node-b", "10.88.1.2", 0), running("api-1", "node-a", "10.88.0.3", 0)}},
		wl:    []api.Workload{{Kind: "Deployment", Namespace: "shop", Name: "web"}, {Kind: "ReplicationController", Namespace: "shop", Name: "cache"}},
		nodes: []api.Node{{Name: "node-a"}, {Name: "node-b"}, {Name: "gpu-1"}},
		nss:   []api.Namespace{{Name: "default"}, {Name: "shop"}, {Name: "kube-system"}},
		services: []api.Service{{Metadata: api.ObjectMeta{Name: "web", Namespace: "shop"}}, {Metadata: api.ObjectMeta{Name: "cache", Namespace: "shop"}},
			{Metadata: api.ObjectMeta{Name: "other", Namespace: "default"}}},
	}
	f.storage = goldenStorage()
	f.pods[0][2].Spec.Containers = append(f.pods[0][2].Spec.Containers, f.pods[0][2].Spec.Containers[0])
	f.pods[0][2].Spec.Containers[1].Name = "sidecar"
	url := startFake(t, f)

	for _, tc := range []struct {
		args      []string
		want      []string
		directive string
	}{
		{[]string{"get", ""}, []string{"pods", "services", "endpoints", "deployments", "replicationcontrollers", "statefulsets", "replicasets", "daemonsets", "nodes", "namespaces", "events", "applications",
			"configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes", "storageclasses", "jobs", "cronjobs", "all"}, ":4"},
		{[]string{"get", "n"}, []string{"nodes", "namespaces"}, ":4"},
		{[]string{"get", "pods", "-n", "shop", ""}, []string{"api-1", "web-1", "web-2"}, ":4"},
		{[]string{"get", "po", "-n", "shop", "we"}, []string{"web-1", "web-2"}, ":4"},
		{[]string{"get", "pods", "-A", ""}, []string{"api-1", "web-1", "web-2"}, ":4"},
		{[]string{"get", "pods", "-n", "shop", "web-2", ""}, []string{"api-1", "web-1"}, ":4"},
		{[]string{"get", "deploy", "-n", "shop", ""}, []string{"web"}, ":4"},
		{[]string{"get", "rc", "-n", "shop", ""}, []string{"cache"}, ":4"},
		{[]string{"get", "widgets", ""}, nil, ":4"},
		{[]string{"get", "nodes", ""}, []string{"gpu-1", "node-a", "node-b"}, ":4"},
		{[]string{"get", "ns", "s"}, []string{"shop"}, ":4"},
		{[]string{"get", "pods", "-n", ""}, []string{"default", "kube-system", "shop"}, ":4"},
		{[]string{"get", "pods", "--namespace", "k"}, []string{"kube-system"}, ":4"},
		{[]string{"describe", ""}, []string{"pods", "services", "deployments", "statefulsets", "replicasets", "daemonsets", "persistentvolumeclaims", "jobs", "cronjobs"}, ":4"},
		{[]string{"describe", "pvc", "-n", "shop", ""}, []string{"data-db-0", "uploads"}, ":4"},
		{[]string{"get", "cm", "-n", "shop", ""}, []string{"web-config"}, ":4"},
		{[]string{"get", "secret", "-n", "shop", "d"}, []string{"db-password"}, ":4"},
		{[]string{"get", "pv", ""}, []string{"archive", "pvc-1a2b"}, ":4"},
		{[]string{"get", "sc", ""}, []string{"local", "shared"}, ":4"},
		{[]string{"describe", "svc", "-n", "shop", ""}, []string{"cache", "web"}, ":4"},
		{[]string{"get", "ep", "-n", "shop", "w"}, []string{"web"}, ":4"},
		{[]string{"describe", "pod", "-n", "shop", "w"}, []string{"web-1", "web-2"}, ":4"},
		{[]string{"describe", "pod", "-o", ""}, []string{"json", "yaml"}, ":4"},
		{[]string{"logs", "-n", "shop", "a"}, []string{"api-1"}, ":4"},
		{[]string{"logs", "api-1", "-n", "shop", "-c", ""}, []string{"web", "sidecar"}, ":4"},
		{[]string{"cordon", ""}, []string{"gpu-1", "node-a", "node-b"}, ":4"},
		{[]string{"uncordon", "node-"}, []string{"node-a", "node-b"}, ":4"},
		{[]string{"drain", "g"}, []string{"gpu-1"}, ":4"},
		{[]string{"status", "-o", ""}, []string{"json", "yaml"}, ":4"},
		{[]string{"version", "-o", "y"}, []string{"yaml"}, ":4"},
		{[]string{"validate", ""}, nil, ":16"},        // directories
		{[]string{"diff", "--local", ""}, nil, ":16"}, // directories
		{[]string{"explain", "po"}, []string{"pods", "podtemplates"}, ":4"},
		{[]string{"explain", "deploy.spec.st"}, []string{"deploy.spec.strategy"}, ":6"},
		{[]string{"explain", "pod.spec.containers.re"}, []string{"pod.spec.containers.readinessProbe", "pod.spec.containers.resources"}, ":6"},
	} {
		words, directive, errOut := completeWords(t, url, tc.args...)
		if !slices.Equal(words, tc.want) && !(len(words) == 0 && len(tc.want) == 0) || directive != tc.directive {
			t.Errorf("complete %q = %q %s, want %q %s (stderr %q)", tc.args, words, directive, tc.want, tc.directive, errOut)
		}
	}
	// get -o: the formats get's --output usage lists (at least these; a
	// format taking an argument, "jsonpath=", does not end the word).
	words, directive, _ := completeWords(t, url, "get", "pods", "-o", "")
	wantDirective := ":4"
	if slices.ContainsFunc(words, func(w string) bool { return strings.HasSuffix(w, "=") }) {
		wantDirective = ":6"
	}
	if len(words) < 3 || !slices.Equal(words[:3], []string{"wide", "json", "yaml"}) || directive != wantDirective {
		t.Errorf("complete get -o = %q %s", words, directive)
	}
	// Pods were asked for in the namespace the command line names.
	if _, _, _ = completeWords(t, url, "logs", "-n", "kube-system", ""); !strings.Contains(f.lastPath, "namespace=kube-system") {
		t.Errorf("logs completion asked %s", f.lastPath)
	}
}

// TestCompletionServerDown: no reconciler (refused, or one that never
// answers) means no words and no error output, within the completion
// timeout rather than --request-timeout.
func TestCompletionServerDown(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	for _, server := range []string{noServer, hang.URL} {
		start := time.Now()
		words, directive, errOut := completeWords(t, server, "get", "pods", "")
		if len(words) != 0 || directive != ":4" {
			t.Errorf("%s: completion offered %q %s", server, words, directive)
		}
		// Only cobra's own debug line, which the shell scripts discard.
		if rest := strings.TrimSpace(strings.ReplaceAll(errOut, "Completion ended with directive: ShellCompDirectiveNoFileComp", "")); rest != "" {
			t.Errorf("%s: completion printed %q", server, rest)
		}
		if d := time.Since(start); d > completionTimeout+2*time.Second {
			t.Errorf("%s: completion took %s", server, d)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "# bash completion V2 for ctl",
		"zsh":        "#compdef ctl",
		"fish":       "# fish completion for ctl",
		"powershell": "# powershell completion for ctl",
	} {
		code, out, errOut := ctl(t, noServer, "completion", shell)
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s = %d %q, want a script starting %q", shell, code, errOut, want)
		}
	}
}

func TestOutputFormats(t *testing.T) {
	for usage, want := range map[string][]string{
		"output format: wide, json or yaml":                                   {"wide", "json", "yaml"},
		"output format: json or yaml (the API's Status)":                      {"json", "yaml"},
		"output format: wide, name, jsonpath=TEMPLATE or custom-columns=SPEC": {"wide", "name", "jsonpath=", "custom-columns="},
		"no list here": nil,
	} {
		if got := outputFormats(usage); !slices.Equal(got, want) {
			t.Errorf("outputFormats(%q) = %q, want %q", usage, got, want)
		}
	}
}
