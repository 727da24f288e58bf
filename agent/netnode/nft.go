package netnode

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// applyTable replaces the node's nftables table in one batch: the table is
// added (a no-op when it exists, say from an earlier run), deleted and
// built anew, so no packet ever sees half a table and leftovers vanish.
//
//	table ip stevedore-node {
//	  chain postrouting { type nat hook postrouting priority srcnat;
//	    ip saddr CLUSTER ip daddr != CLUSTER oifname != BRIDGE masquerade }
//	  chain forward { type filter hook forward priority filter; policy accept;
//	    tcp flags syn tcp option maxseg size set rt mtu
//	    ip saddr CLUSTER accept; ip daddr CLUSTER accept }
//	}
//
// Only pod traffic leaving the cluster is masqueraded: pod-to-pod traffic
// keeps its source address on every path, which Services and network
// policies (later) rely on.
func (n *Node) applyTable(p plan) error {
	c, err := n.nft()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: n.cfg.Table, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	post := c.AddChain(&nftables.Chain{
		Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	masq := append(matchPrefix(12, p.clusterCIDR, expr.CmpOpEq), matchPrefix(16, p.clusterCIDR, expr.CmpOpNeq)...)
	if n.cfg.Bridge != "" {
		masq = append(masq,
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(n.cfg.Bridge)},
		)
	}
	masq = append(masq, &expr.Counter{}, &expr.Masq{})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: masq})

	accept := nftables.ChainPolicyAccept
	fwd := c.AddChain(&nftables.Chain{
		Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: clampMSS()})
	for _, off := range []uint32{12, 16} {
		ex := append(matchPrefix(off, p.clusterCIDR, expr.CmpOpEq), &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: ex})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to replace nftables table %s: %w", n.cfg.Table, err)
	}
	return nil
}

// clampMSS is `tcp flags syn tcp option maxseg size set rt mtu`: the MSS
// of a forwarded connection's SYN and SYN-ACK is lowered (the kernel never
// raises it) to fit the route's MTU. Pods keep an MTU of 1500 while the
// VXLAN device has 50 bytes less; without the clamp their TCP would depend
// on path MTU discovery.
func clampMSS() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x02}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0}},
		&expr.Rt{Register: 1, Key: expr.RtTCPMSS},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 2, Size: 2},
		&expr.Exthdr{SourceRegister: 1, Type: 2 /* maxseg */, Offset: 2, Len: 2, Op: expr.ExthdrOpTcpopt},
	}
}

// matchPrefix compares the IPv4 address at offset off of the network
// header (12 source, 16 destination) with pfx.
func matchPrefix(off uint32, pfx netip.Prefix, op expr.CmpOp) []expr.Any {
	a := pfx.Masked().Addr().As4()
	ex := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}}
	if pfx.Bits() < 32 {
		m := netipMask(pfx.Bits())
		ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)})
	}
	return append(ex, &expr.Cmp{Op: op, Register: 1, Data: a[:]})
}

func netipMask(bits int) []byte {
	m := make([]byte, 4)
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// ifname is an interface name as the kernel compares it: NUL-padded to
// IFNAMSIZ.
func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

// deleteTable removes the node's table if it exists.
func (n *Node) deleteTable() error {
	c, err := n.nft()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: n.cfg.Table, Family: nftables.TableFamilyIPv4}
	// Adding first makes the delete succeed when there is nothing to delete.
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to delete nftables table %s: %w", n.cfg.Table, err)
	}
	return nil
}

// sysctls the node network needs, per network namespace on this kernel.
// bridge-nf-call-iptables makes bridged IPv4 traffic cross the ip family's
// hooks: without it a pod calling a Service whose endpoint sits on the
// same bridge would get the endpoint's reply straight over the bridge,
// never un-NATed.
var sysctls = []struct {
	path, value string
	optional    bool // missing when br_netfilter is not loaded
}{
	{"net/ipv4/ip_forward", "1", false},
	{"net/bridge/bridge-nf-call-iptables", "1", true},
}

// setSysctls writes the sysctls inside the node's namespace.
func (n *Node) setSysctls() error {
	return n.inNS(func() error {
		var errs []error
		for _, s := range sysctls {
			p := filepath.Join("/proc/sys", s.path)
			cur, err := os.ReadFile(p)
			if err == nil && len(cur) > 0 && string(cur[:len(cur)-1]) == s.value {
				continue
			}
			if errors.Is(err, os.ErrNotExist) && s.optional {
				n.log.Warn("sysctl missing: is br_netfilter loaded? Pods calling a Service whose endpoint is on the same node may get no answer", "sysctl", s.path)
				continue
			}
			if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("failed to set sysctl %s=%s: %w", s.path, s.value, err))
			}
		}
		return errors.Join(errs...)
	})
}

// inNS runs fn on an OS thread inside the node's namespace (sysctls under
// /proc/sys/net are those of the opening thread's namespace). It runs in a
// goroutine of its own: should switching back fail, that goroutine exits
// with its thread still locked, and Go discards the thread rather than
// reuse it in the wrong namespace.
func (n *Node) inNS(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- fmt.Errorf("failed to open the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(n.ns); err != nil {
			done <- fmt.Errorf("failed to enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			done <- errors.Join(ferr, fmt.Errorf("failed to leave network namespace: %w", err))
			return
		}
		goruntime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}
