package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestDescribeNamespace(t *testing.T) {
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	list := api.NamespaceList{Namespaces: []api.Namespace{
		{Name: "default", Status: "Active"},
		{Name: "shop", Status: "Active", Pods: 2,
			Labels:      map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
			Annotations: map[string]string{"team": "web"},
			Quotas: []api.NamespaceQuota{{Name: "compute",
				Hard: spec.ResourceList{"pods": q("3"), "requests.cpu": q("1")},
				Used: spec.ResourceList{"pods": q("2"), "requests.cpu": q("200m")}}},
			LimitRanges: []api.NamespaceLimitRange{{Name: "defaults", Limits: []spec.LimitRangeItem{
				{Type: "Container", Min: spec.ResourceList{"cpu": q("50m")}, Max: spec.ResourceList{"cpu": q("1")},
					Default: spec.ResourceList{"cpu": q("500m")}, DefaultRequest: spec.ResourceList{"cpu": q("100m")}},
			}}}},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != api.PathNamespaces {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer srv.Close()

	code, out, errOut := ctl(t, srv.URL, "describe", "namespace", "shop")
	want := `Name:               shop
Labels:             pod-security.kubernetes.io/enforce=restricted
Annotations:        team=web
Status:             Active

Resource Quotas
  Name:    compute
  Resource      Used  Hard
  --------      ---   ---
  pods          2     3
  requests.cpu  200m  1

Resource Limits
 Name:  defaults
 Type       Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio
 ----       --------  ---  ---  ---------------  -------------  -----------------------
 Container  cpu       50m  1    100m             500m           -
`
	if code != 0 || out != want {
		t.Errorf("describe namespace shop = %d %s\n%s\nwant\n%s", code, errOut, out, want)
	}
	code, out, _ = ctl(t, srv.URL, "describe", "ns", "default")
	if want := "Name:               default\nLabels:             <none>\nAnnotations:        <none>\nStatus:             Active\n\nNo resource quota.\n\nNo LimitRange resource.\n"; code != 0 || out != want {
		t.Errorf("describe ns default = %d\n%s", code, out)
	}
	if code, _, errOut := ctl(t, srv.URL, "describe", "ns", "nope"); code != 1 || errOut == "" {
		t.Errorf("describe ns nope = %d %q", code, errOut)
	}
}

func TestGetQuotaAndLimits(t *testing.T) {
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	list := api.NamespaceList{Namespaces: []api.Namespace{
		{Name: "default", Status: "Active"},
		{Name: "shop", Status: "Active",
			Quotas: []api.NamespaceQuota{{Name: "compute",
				Hard: spec.ResourceList{"pods": q("3"), "requests.cpu": q("1"), "limits.memory": q("2Gi")},
				Used: spec.ResourceList{"pods": q("2"), "requests.cpu": q("200m"), "limits.memory": q("0")}}},
			LimitRanges: []api.NamespaceLimitRange{{Name: "defaults", Limits: []spec.LimitRangeItem{{Type: "Container"}, {Type: "Pod"}}}}},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer srv.Close()
	code, out, errOut := ctl(t, srv.URL, "get", "quota", "-n", "shop")
	want := "NAME      REQUEST                           LIMIT\ncompute   pods: 2/3, requests.cpu: 200m/1   limits.memory: 0/2Gi\n"
	if code != 0 || out != want {
		t.Errorf("get quota = %d %s\n%q\nwant\n%q", code, errOut, out, want)
	}
	code, out, _ = ctl(t, srv.URL, "get", "limits", "-A")
	if want := "NAMESPACE   NAME       TYPES\nshop        defaults   Container,Pod\n"; code != 0 || out != want {
		t.Errorf("get limits -A = %d\n%q", code, out)
	}
	code, out, _ = ctl(t, srv.URL, "get", "resourcequota", "compute", "-n", "shop", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "kind: ResourceQuota") || !strings.Contains(out, "used:") {
		t.Errorf("get quota -o yaml = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, srv.URL, "get", "quota")
	if code != 0 || !strings.Contains(out, "No resourcequotas found") && !strings.Contains(out, "No resources found") {
		t.Errorf("get quota in default = %d %q", code, out)
	}
}
