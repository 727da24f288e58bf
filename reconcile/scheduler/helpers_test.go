package scheduler

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

func mkNode(name string, cpu, memMi int64, labels map[string]string) Node {
	if labels == nil {
		labels = map[string]string{}
	}
	labels["kubernetes.io/hostname"] = name
	return Node{Name: name, Labels: labels, Allocatable: Resources{MilliCPU: cpu, Memory: memMi << 20, Pods: 110}}
}

func mkSpec(cpu, memMi int64) *spec.PodSpec {
	req := spec.ResourceList{}
	if cpu > 0 {
		req[spec.ResourceCPU] = *resource.NewMilliQuantity(cpu, resource.DecimalSI)
	}
	if memMi > 0 {
		req[spec.ResourceMemory] = *resource.NewQuantity(memMi<<20, resource.BinarySI)
	}
	return &spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "i", Resources: spec.Resources{Requests: req}}}}
}

func mkPod(name string, s *spec.PodSpec, labels map[string]string) Pod {
	return Pod{Namespace: "default", Name: name, Labels: labels, Spec: s}
}

func newSched(t testing.TB, cfg Config) *Scheduler {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func nodesOf(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Node
		if r.Node == "" {
			out[i] = "<" + r.Reason + ">"
		}
	}
	return out
}

func want(t *testing.T, got []Result, nodes ...string) {
	t.Helper()
	g := nodesOf(got)
	if fmt.Sprint(g) != fmt.Sprint(nodes) {
		t.Fatalf("placements:\n got %q\nwant %q", g, nodes)
	}
}

func wantReason(t *testing.T, r Result, reason string) {
	t.Helper()
	if r.Node != "" || r.Reason != reason {
		t.Fatalf("got node %q reason %q\nwant reason %q", r.Node, r.Reason, reason)
	}
}

func qty(s string) resource.Quantity { return resource.MustParse(s) }

func nodeName(i int) string { return fmt.Sprintf("node-%05d", i) }
