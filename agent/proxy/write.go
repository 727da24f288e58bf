package proxy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The key types of the table's verdict maps.
var (
	keyIPProtoPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	keyProtoPort   = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	keyIPIP        = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr)
)

// setSpecs are the table's fixed sets: the four verdict maps and the
// hairpin set, all flushed and refilled by every Apply.
func (p *Proxy) setSpecs() []*nftables.Set {
	m := func(name string, key nftables.SetDatatype) *nftables.Set {
		return &nftables.Set{Table: p.table, Name: name, IsMap: true, Concatenation: true,
			KeyType: key, DataType: nftables.TypeVerdict}
	}
	return []*nftables.Set{
		m(mapServiceIPs, keyIPProtoPort),
		m(mapServiceNodePorts, keyProtoPort),
		m(mapNoEndpointIPs, keyIPProtoPort),
		m(mapNoEndpointNodePts, keyProtoPort),
		{Table: p.table, Name: setHairpin, Concatenation: true, KeyType: keyIPIP},
	}
}

// elementsPerMessage bounds one NEWSETELEM message: its element list is a
// netlink attribute, whose length is 16 bits.
const elementsPerMessage = 256

// write brings the table to pl in one transaction. Chains whose content
// this proxy wrote in an earlier Apply and that have not changed are left
// alone (as kube-proxy does: most updates touch a few Services); every other
// existing chain is flushed and refilled or deleted, and the fixed maps and
// sets are flushed and refilled. Affinity sets that pl keeps are left as
// they are, so clients keep their endpoint across updates. The first Apply
// (and any Apply after a failed one, or when the table holds chains this
// proxy did not write) rewrites everything, which takes over whatever a
// previous run left.
//
// With fresh, the transaction deletes the table and creates it anew: the
// way out when the table holds something the incremental path cannot fix.
func (p *Proxy) write(pl *plan, fresh bool) error {
	var oldChains []*nftables.Chain
	var oldSets []*nftables.Set
	exists, err := p.tableExists()
	if err != nil {
		return err
	}
	if exists && !fresh {
		if oldChains, err = p.listChains(); err != nil {
			return err
		}
		if oldSets, err = p.conn.GetSets(p.table); err != nil {
			return fmt.Errorf("failed to list sets of table %s: %w", p.cfg.Table, err)
		}
	}
	written := p.written
	p.written = nil // until this transaction commits
	if written != nil && len(written) != len(oldChains) {
		written = nil
	}
	if written != nil {
		// Chains flushed behind the proxy's back (`nft flush table`) keep
		// their names, so the memory of what was written does not see it.
		if ok, err := p.fixedChainsIntact(pl); err != nil {
			return err
		} else if !ok {
			p.log.Warn("service rules were flushed by someone else; rewriting them", "table", p.cfg.Table)
			written = nil
		}
	}

	desired := make(map[string]*chainSpec, len(pl.chains))
	sigs := make(map[string]string, len(pl.chains))
	for _, cs := range pl.chains {
		desired[cs.name] = cs
		sigs[cs.name] = cs.signature()
	}
	keepChain := map[string]bool{} // exists and stays (maybe refilled)
	unchanged := map[string]bool{} // exists and stays as it is
	for _, old := range oldChains {
		cs, ok := desired[old.Name]
		if ok && sameHook(old, cs.base) {
			keepChain[old.Name] = true
			if sig, seen := written[old.Name]; seen && sig == sigs[old.Name] {
				unchanged[old.Name] = true
			}
		}
	}
	setsSig := pl.setsSignature()
	if !fresh && len(unchanged) == len(pl.chains) && len(oldChains) == len(pl.chains) &&
		setsSig == p.setsSig && countNamed(oldSets) == len(p.setSpecs())+len(pl.affinity) {
		// The level-triggered caller re-sent what the table already
		// holds: no transaction at all.
		p.written, p.rewritten = written, 0
		return nil
	}
	if err := p.queue(pl, exists && fresh, oldChains, oldSets, unchanged, keepChain); err != nil {
		// Messages are queued on the connection until Flush: a fresh
		// one drops them, so that the next transaction starts clean.
		if rerr := p.reopen(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	if err := p.conn.Flush(); err != nil {
		// A failed batch can leave replies unread on the socket (the
		// library stops reading at the first ENOBUFS): start afresh so
		// they are not taken for the next transaction's.
		if rerr := p.reopen(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("failed to commit nftables transaction for table %s: %w", p.cfg.Table, err)
	}
	p.written, p.setsSig = sigs, setsSig
	p.rewritten = len(pl.chains) - len(unchanged)
	return nil
}

// queue queues the transaction's messages on the connection.
func (p *Proxy) queue(pl *plan, delTable bool, oldChains []*nftables.Chain, oldSets []*nftables.Set, unchanged, keepChain map[string]bool) error {
	c := p.conn
	if delTable {
		c.DelTable(p.table)
	}
	c.AddTable(p.table)
	for _, old := range oldChains {
		if !unchanged[old.Name] {
			c.FlushChain(old)
		}
	}
	keepSet, err := p.prepareSets(pl, oldSets)
	if err != nil {
		return err
	}
	for _, old := range oldChains {
		if !keepChain[old.Name] {
			c.DelChain(old)
		}
	}

	chains := make(map[string]*nftables.Chain, len(pl.chains))
	for _, cs := range pl.chains {
		ch := &nftables.Chain{Name: cs.name, Table: p.table}
		if cs.base != nil {
			ch.Type, ch.Hooknum, ch.Priority = cs.base.typ, cs.base.hook, cs.base.priority
		}
		chains[cs.name] = ch
		if !keepChain[cs.name] {
			c.AddChain(ch)
		}
	}
	sets, err := p.addSets(pl, keepSet)
	if err != nil {
		return err
	}
	return p.addRules(pl, chains, sets, unchanged)
}

func countNamed(sets []*nftables.Set) int {
	n := 0
	for _, s := range sets {
		if !s.Anonymous {
			n++
		}
	}
	return n
}

// setsSignature is the content of the fixed maps and sets, and the names of
// the affinity sets, in short.
func (pl *plan) setsSignature() string {
	var b strings.Builder
	for _, name := range []string{mapServiceIPs, mapServiceNodePorts, mapNoEndpointIPs, mapNoEndpointNodePts} {
		b.WriteString(name)
		for _, e := range pl.maps[name] {
			b.WriteByte(' ')
			b.WriteString(hex.EncodeToString(e.Key))
			b.WriteString(e.VerdictData.Chain)
		}
		b.WriteByte(';')
	}
	ips := make([]string, 0, len(pl.hairpin))
	for ip := range pl.hairpin {
		ips = append(ips, ip)
	}
	sort.Strings(ips)
	b.WriteString(strings.Join(ips, " "))
	for _, a := range pl.affinity {
		b.WriteByte(';')
		b.WriteString(a.name)
	}
	return b.String()
}

// prepareSets flushes the fixed sets that exist with the right type, keeps
// the affinity sets pl still uses and deletes every other set. It returns
// the names of the sets kept.
func (p *Proxy) prepareSets(pl *plan, oldSets []*nftables.Set) (map[string]bool, error) {
	want := map[string]*nftables.Set{}
	for _, s := range p.setSpecs() {
		want[s.Name] = s
	}
	for _, a := range pl.affinity {
		want[a.name] = nil
	}
	keep := map[string]bool{}
	for _, old := range oldSets {
		if old.Anonymous {
			continue // bound to its rule; goes with it
		}
		w, ok := want[old.Name]
		switch {
		case ok && w == nil && old.HasTimeout: // affinity set, kept with its entries
			keep[old.Name] = true
		// google/nftables v0.3.0 reads a verdict map's data type into
		// KeyType, so only plain sets' key length can be compared; a map
		// of the wrong key type (an older layout) fails the transaction,
		// and Apply then recreates the table.
		case ok && w != nil && old.IsMap == w.IsMap && (old.IsMap || old.KeyType.Bytes == w.KeyType.Bytes):
			p.conn.FlushSet(old)
			keep[old.Name] = true
		default:
			p.conn.DelSet(old)
		}
	}
	return keep, nil
}

// addSets creates the sets that do not exist yet and fills the fixed ones.
func (p *Proxy) addSets(pl *plan, keep map[string]bool) (map[string]*nftables.Set, error) {
	sets := map[string]*nftables.Set{}
	elements := map[string][]nftables.SetElement{}
	for name, els := range pl.maps {
		elements[name] = els
	}
	for _, ip := range pl.hairpin {
		elements[setHairpin] = append(elements[setHairpin], nftables.SetElement{Key: append(append([]byte{}, ip...), ip...)})
	}
	for _, s := range p.setSpecs() {
		sets[s.Name] = s
		if !keep[s.Name] {
			if err := p.conn.AddSet(s, nil); err != nil {
				return nil, fmt.Errorf("failed to add set %s: %w", s.Name, err)
			}
		}
		els := elements[s.Name]
		for len(els) > 0 {
			n := min(len(els), elementsPerMessage)
			if err := p.conn.SetAddElements(s, els[:n]); err != nil {
				return nil, fmt.Errorf("failed to add elements to set %s: %w", s.Name, err)
			}
			els = els[n:]
		}
	}
	for _, a := range pl.affinity {
		s := &nftables.Set{Table: p.table, Name: a.name, KeyType: nftables.TypeIPAddr,
			HasTimeout: true, Dynamic: true, Timeout: a.timeout}
		sets[a.name] = s
		if !keep[a.name] {
			if err := p.conn.AddSet(s, nil); err != nil {
				return nil, fmt.Errorf("failed to add affinity set %s: %w", a.name, err)
			}
		}
	}
	return sets, nil
}

func (p *Proxy) addRules(pl *plan, chains map[string]*nftables.Chain, sets map[string]*nftables.Set, unchanged map[string]bool) error {
	for _, cs := range pl.chains {
		if unchanged[cs.name] {
			continue
		}
		for _, r := range cs.rules {
			exprs := r.exprs
			if r.vmap != nil {
				// numgen writes a host-endian integer, so the keys are
				// host-endian. (google/nftables v0.3.0 marks every
				// anonymous set big-endian for nft, which therefore
				// prints key 1 as 16777216: a display quirk only.)
				anon := &nftables.Set{Table: p.table, Anonymous: true, Constant: true, IsMap: true,
					KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict}
				els := make([]nftables.SetElement, len(r.vmap))
				for i, target := range r.vmap {
					els[i] = nftables.SetElement{Key: nativeUint32(uint32(i)),
						VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: target}}
				}
				if err := p.conn.AddSet(anon, els); err != nil {
					return fmt.Errorf("failed to add endpoint map of %s: %w", cs.name, err)
				}
				exprs = append(append([]expr.Any(nil), exprs...),
					&expr.Lookup{SourceRegister: 1, SetName: anon.Name, SetID: anon.ID, DestRegister: 0, IsDestRegSet: true})
			}
			for _, e := range exprs {
				// Sets created in this transaction are found by ID.
				switch e := e.(type) {
				case *expr.Lookup:
					if s := sets[e.SetName]; s != nil {
						e.SetID = s.ID
					}
				case *expr.Dynset:
					if s := sets[e.SetName]; s != nil {
						e.SetID = s.ID
					}
				}
			}
			p.conn.AddRule(&nftables.Rule{Table: p.table, Chain: chains[cs.name], Exprs: exprs})
		}
	}
	return nil
}

func (p *Proxy) listChains() ([]*nftables.Chain, error) {
	all, err := p.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("failed to list chains: %w", err)
	}
	var chains []*nftables.Chain
	for _, ch := range all {
		if ch.Table != nil && ch.Table.Name == p.cfg.Table {
			chains = append(chains, ch)
		}
	}
	return chains, nil
}

// fixedChainsIntact reports whether the table's fixed chains (the hooks,
// the services dispatch, the checks: what every Service goes through)
// hold as many rules as pl gives them. One small dump per chain, so that
// a level-triggered Apply of an unchanged set still repairs a table whose
// rules were flushed. (A single per-Service chain flushed by hand is not
// seen; it is rewritten when its Service changes.)
func (p *Proxy) fixedChainsIntact(pl *plan) (bool, error) {
	for _, cs := range pl.chains[:pl.fixed] {
		rules, err := p.conn.GetRules(p.table, &nftables.Chain{Name: cs.name, Table: p.table})
		if err != nil {
			return false, fmt.Errorf("failed to list rules of chain %s: %w", cs.name, err)
		}
		if len(rules) != len(cs.rules) {
			return false, nil
		}
	}
	return true, nil
}

// sameHook reports whether an existing chain can be kept as the chain b
// describes: both regular, or both hooked the same way.
func sameHook(old *nftables.Chain, b *baseChain) bool {
	if b == nil || old.Hooknum == nil {
		return b == nil && old.Hooknum == nil
	}
	return old.Type == b.typ && *old.Hooknum == *b.hook && old.Priority != nil && *old.Priority == *b.priority
}

// signature is the chain's content in short.
func (c *chainSpec) signature() string {
	return strings.Join(c.sig, " ")
}
