package reconcile
import ("fmt";"testing";"github.com/stevedore-dev/stevedore/agent/api";"github.com/stevedore-dev/stevedore/spec")
func TestZZDebug(t *testing.T){
	in := largeCluster(t, 50, 1500)
	in.Desired = copySet(in.Desired)
	big := deployment("ns-big", "big", 100, "img:big-0")
	in.Desired.Objects[spec.KeyOf(big)] = big
	n0 := 0
	in.NewUID = func() string { n0++; return fmt.Sprintf("new-%d", n0) }
	pl := NewPlanner()
	out := pl.Plan(in)
	t.Log("p1", pl.valid, out.MemoryChanged, len(out.Events))
	in.Memory = out.Memory
	in.Observed = map[string][]api.PodStatus{}
	for n, s := range runningStatuses(out) { in.Observed[n] = s }
	out = pl.Plan(in)
	t.Log("p2", pl.valid, out.MemoryChanged, len(out.Events))
	in.Memory = out.Memory
	out = pl.Plan(in)
	_, all := pl.ChangedNodes()
	t.Log("valid", pl.valid, all, len(pl.restless), len(pl.unplaced), len(pl.waking))
	next := copySet(in.Desired)
	big = deployment("ns-big", "big", 100, "img:big-1")
	next.Objects[spec.KeyOf(big)] = big
	in.Desired = next
	d, ok := pl.changes(in)
	n := 0
	for g := range d { n += len(g.keys) + 100; t.Log(g.id) }
	t.Log(len(d), ok, n, len(in.Memory.Pods))
}
