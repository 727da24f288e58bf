package reconcile

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// A ConfigMap's change changes the sets of exactly the nodes whose pods
// refer to it (Planner.ChangedNodes), and no pod's template hash or UID.
func TestPlannerConfigChangeTouchesItsNodesOnly(t *testing.T) {
	set := spec.NewSet()
	for _, l := range [][]string{
		{"configmap", "cfg", "data=A=1"},
		{"configmap", "other", "data=B=1"},
		{"secret", "tok", "data=T=s3cret"},
		{"pod", "a", "image=x", "nodeName=n1", "configmap=cfg"},
		{"pod", "b", "image=x", "nodeName=n2", "configmap=other"},
		{"pod", "c", "image=x", "nodeName=n3", "secret=tok"},
		{"pod", "d", "image=x", "nodeName=n3"},
	} {
		if err := addObject(set, l); err != nil {
			t.Fatal(err)
		}
	}
	uid := 0
	in := Input{Desired: set, Now: time.Unix(0, 0), NewUID: func() string { uid++; return "u" + strconv.Itoa(uid) }}
	for _, n := range []string{"n1", "n2", "n3"} {
		in.Nodes = append(in.Nodes, NodeState{Info: api.NodeInfo{Name: n}, Alive: true})
	}
	pl := NewPlanner()
	out := pl.Plan(in)
	if got := out.NodeConfig["n3"]; len(got) != 1 || got[0].Kind != spec.KindSecret || string(got[0].Data["T"]) != "s3cret" {
		t.Fatalf("n3's config: %+v", got)
	}
	hashes := map[string]string{}
	for k, r := range out.Memory.Pods {
		hashes[k] = r.UID + r.Hash
	}
	// Steady: nothing changes.
	in.Memory = out.Memory
	out = pl.Plan(in)
	if nodes, all := pl.ChangedNodes(); all || len(nodes) != 0 {
		t.Fatalf("steady plan changed nodes %v (all %v)", nodes, all)
	}
	next := copySet(set)
	if err := addObject(next, []string{"configmap", "cfg", "data=A=2"}); err != nil {
		t.Fatal(err)
	}
	in.Desired, in.Memory = next, out.Memory
	out = pl.Plan(in)
	nodes, all := pl.ChangedNodes()
	if all || !slices.Equal(nodes, []string{"n1"}) {
		t.Fatalf("changed nodes %v (all %v), want [n1]", nodes, all)
	}
	if string(out.NodeConfig["n1"][0].Data["A"]) != "2" {
		t.Fatalf("n1's config: %+v", out.NodeConfig["n1"])
	}
	if out.MemoryChanged {
		t.Fatalf("a ConfigMap change changed the memory: %v %v", out.Changed, out.VolumesChanged)
	}
	for k, r := range out.Memory.Pods {
		if hashes[k] != r.UID+r.Hash {
			t.Fatalf("pod %s changed: %s → %s", k, hashes[k], r.UID+r.Hash)
		}
	}
	// Same check with Plan: identical output.
	full := Plan(Input{Desired: next, Nodes: in.Nodes, Now: in.Now, Memory: Memory{Pods: out.Memory.Pods, Volumes: out.Memory.Volumes}})
	if len(full.NodeConfig) != len(out.NodeConfig) || full.NodeConfig["n1"][0].Version != out.NodeConfig["n1"][0].Version {
		t.Fatalf("Plan and Planner disagree: %+v vs %+v", full.NodeConfig, out.NodeConfig)
	}
}

// podRefs lists every kind of reference once, sorted.
func TestPodRefs(t *testing.T) {
	ps := &spec.PodSpec{
		Volumes: []spec.Volume{
			{Name: "c", VolumeSource: spec.VolumeSource{ConfigMap: &spec.ConfigMapVolumeSource{Name: "cm1"}}},
			{Name: "s", VolumeSource: spec.VolumeSource{Secret: &spec.SecretVolumeSource{SecretName: "s1"}}},
			{Name: "p", VolumeSource: spec.VolumeSource{Projected: &spec.ProjectedVolumeSource{Sources: []spec.VolumeProjection{
				{ConfigMap: &spec.ConfigMapProjection{Name: "cm2"}}, {Secret: &spec.SecretProjection{Name: "s2"}}}}}},
			{Name: "d", VolumeSource: spec.VolumeSource{PersistentVolumeClaim: &spec.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
		},
		InitContainers: []spec.Container{{Name: "i", Env: []spec.EnvVar{{Name: "X", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "s3", Key: "k"}}}}}},
		Containers: []spec.Container{{Name: "m",
			Env:     []spec.EnvVar{{Name: "Y", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "cm1", Key: "k"}}}},
			EnvFrom: []spec.EnvFromSource{{ConfigMapRef: &spec.ConfigMapEnvSource{Name: "cm3"}}, {SecretRef: &spec.SecretEnvSource{Name: "s1"}}}}},
	}
	got := podRefs("ns", ps)
	want := []string{"ConfigMap/ns/cm1", "ConfigMap/ns/cm2", "ConfigMap/ns/cm3", "PersistentVolumeClaim/ns/data", "Secret/ns/s1", "Secret/ns/s2", "Secret/ns/s3"}
	if !slices.Equal(got, want) {
		t.Fatalf("refs %v, want %v", got, want)
	}
}
