package proxy

import (
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A table flushed behind the proxy's back (`nft flush table`, or one chain
// flushed by hand) keeps its chains and maps: the next Apply, even of the
// same set, must see that their rules are gone and write them again.
func TestFlushedTableRestored(t *testing.T) {
	tp := newTopo(t)
	cfg := Config{Table: "stv-flushed", ClusterCIDR: tp.clusterCIDR(), Bridge: "br0"}
	p := newProxy(t, tp.node, cfg)
	must(t, p.Apply([]api.Service{tp.webService()}))
	before, err := nft(t, tp.node, "list", "table", "ip", cfg.Table)
	must(t, err)
	for _, cmd := range [][]string{
		{"flush", "chain", "ip", cfg.Table, "services"},
		{"flush", "table", "ip", cfg.Table},
	} {
		nftAll(t, tp.node, cmd)
		must(t, p.Apply([]api.Service{tp.webService()}))
		after, err := nft(t, tp.node, "list", "table", "ip", cfg.Table)
		must(t, err)
		if blocks(after) != blocks(before) {
			t.Errorf("after nft %v, Apply did not restore the table:\n--- want\n%s\n--- got\n%s", cmd, before, after)
		}
		reachAll(t, func() (reply, error) { return getTCP(tp.client.ns, tp.clusterIP(10)+":80", reqTimeout) }, "p1", "p2", "p3")
	}
}
