package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func TestTagsRoundTrip(t *testing.T) {
	for _, n := range []api.NodeInfo{
		{Name: "bare", APIAddr: "http://127.0.0.1:1", Allocatable: api.Resources{MilliCPU: 1, Memory: 2, Pods: 3},
			Protocol: api.ProtocolRange{Min: 1, Max: 1}},
		{
			Name: "full", APIAddr: "http://10.0.0.1:7701", PodCIDR: "10.88.1.0/24",
			Version: "v0.16.0", Protocol: api.ProtocolRange{Min: 1, Max: 2},
			Allocatable: api.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110, EphemeralStorage: 1 << 40,
				Extended: map[string]int64{"nvidia.com/gpu": 2, "example.com/foo": 0, "hugepages-2Mi": 1 << 30}},
			Labels: map[string]string{"zone": "a", "disk": "ssd", "empty": ""},
			Taints: []spec.Taint{
				{Key: "gpu", Effect: spec.TaintEffectNoSchedule},
				{Key: "dedicated", Value: "db", Effect: spec.TaintEffectNoExecute},
			},
		},
	} {
		tags, err := api.EncodeTags(n)
		if err != nil {
			t.Fatalf("%s: EncodeTags: %v", n.Name, err)
		}
		if tags[api.TagRole] != api.RoleAgent {
			t.Errorf("%s: role %q", n.Name, tags[api.TagRole])
		}
		got, err := api.DecodeTags(n.Name, tags)
		if err != nil {
			t.Fatalf("%s: DecodeTags: %v", n.Name, err)
		}
		if diff := cmp.Diff(n, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", n.Name, diff)
		}
	}
}

func TestTagsErrors(t *testing.T) {
	big := api.NodeInfo{Labels: map[string]string{"k": strings.Repeat("v", 600)}}
	if _, err := api.EncodeTags(big); !errors.Is(err, api.ErrTagsTooLarge) {
		t.Errorf("EncodeTags(big) = %v, want ErrTagsTooLarge", err)
	}
	if _, err := api.DecodeTags("r", map[string]string{api.TagRole: api.RoleReconciler}); err == nil {
		t.Error("DecodeTags accepted a reconciler")
	}
	if _, err := api.DecodeTags("n", map[string]string{api.TagRole: api.RoleAgent, api.TagCPU: "lots"}); err == nil {
		t.Error("DecodeTags accepted cpu=lots")
	}
	for _, bad := range []string{"nvidia.com/gpu", "nvidia.com/gpu=two", "nvidia.com/gpu=-1", "=1"} {
		if _, err := api.DecodeTags("n", map[string]string{api.TagRole: api.RoleAgent, api.TagExt: bad}); err == nil {
			t.Errorf("DecodeTags accepted ext=%q", bad)
		}
	}
	if _, err := api.DecodeTags("n", map[string]string{api.TagRole: api.RoleAgent, api.TagTaints: "noeffect"}); err == nil {
		t.Error("DecodeTags accepted a taint without effect")
	}
}
