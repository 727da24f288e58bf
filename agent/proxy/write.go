package proxy

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The key types of the table's verdict maps.
var (
	keyIPProtoPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	keyProtoPort   = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
)

func (p *Proxy) mapSpecs() []*nftables.Set {
	m := func(name string, key nftables.SetDatatype) *nftables.Set {
		return &nftables.Set{Table: p.table, Name: name, IsMap: true, Concatenation: true,
			KeyType: key, DataType: nftables.TypeVerdict}
	}
	return []*nftables.Set{
		m(mapServiceIPs, keyIPProtoPort),
		m(mapServiceNodePorts, keyProtoPort),
		m(mapNoEndpointIPs, keyIPProtoPort),
		m(mapNoEndpointNodePts, keyProtoPort),
	}
}

// write replaces the table's content with pl in one transaction: every
// existing chain and map is flushed, what pl no longer has is deleted, and
// everything is refilled. Affinity sets that pl keeps are left as they are,
// so clients keep their endpoint across updates of other Services. Whatever
// a previous run (or another version) left in the table goes the same way.
func (p *Proxy) write(pl *plan) error {
	c := p.conn
	var oldChains []*nftables.Chain
	var oldSets []*nftables.Set
	exists, err := p.tableExists()
	if err != nil {
		return err
	}
	if exists {
		if oldChains, err = p.listChains(); err != nil {
			return err
		}
		if oldSets, err = c.GetSets(p.table); err != nil {
			return fmt.Errorf("failed to list sets of table %s: %w", p.cfg.Table, err)
		}
	}
	c.AddTable(p.table)

	desired := make(map[string]*chainSpec, len(pl.chains))
	for _, cs := range pl.chains {
		desired[cs.name] = cs
	}
	keepChain := map[string]bool{}
	for _, old := range oldChains {
		c.FlushChain(old)
		if cs, ok := desired[old.Name]; ok && sameHook(old, cs.base) {
			keepChain[old.Name] = true
		}
	}

	maps := p.mapSpecs()
	wantSet := map[string]*nftables.Set{}
	for _, m := range maps {
		wantSet[m.Name] = m
	}
	keepSet := map[string]bool{}
	var newAffinity []affinitySet
	for _, a := range pl.affinity {
		wantSet[a.name] = nil
	}
	for _, old := range oldSets {
		if old.Anonymous {
			continue // bound to a rule; goes with its flushed chain
		}
		want, ok := wantSet[old.Name]
		switch {
		case ok && want == nil && old.HasTimeout: // affinity set, kept with its entries
			keepSet[old.Name] = true
		case ok && want != nil && old.IsMap && old.KeyType.Bytes == want.KeyType.Bytes:
			c.FlushSet(old)
			keepSet[old.Name] = true
		default:
			c.DelSet(old)
		}
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

	sets := map[string]*nftables.Set{}
	for _, m := range maps {
		sets[m.Name] = m
		if !keepSet[m.Name] {
			if err := c.AddSet(m, nil); err != nil {
				return fmt.Errorf("failed to add map %s: %w", m.Name, err)
			}
		}
	}
	for _, a := range pl.affinity {
		s := &nftables.Set{Table: p.table, Name: a.name, KeyType: nftables.TypeIPAddr,
			HasTimeout: true, Dynamic: true, Timeout: a.timeout}
		sets[a.name] = s
		if !keepSet[a.name] {
			newAffinity = append(newAffinity, a)
			if err := c.AddSet(s, nil); err != nil {
				return fmt.Errorf("failed to add affinity set %s: %w", a.name, err)
			}
		}
	}

	if err := p.addRules(pl, chains, sets); err != nil {
		return err
	}
	for _, m := range maps {
		if els := pl.maps[m.Name]; len(els) > 0 {
			if err := c.SetAddElements(m, els); err != nil {
				return fmt.Errorf("failed to add elements to map %s: %w", m.Name, err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to commit nftables transaction for table %s: %w", p.cfg.Table, err)
	}
	if len(newAffinity) > 0 {
		p.log.Debug("affinity sets created", "count", len(newAffinity))
	}
	return nil
}

func (p *Proxy) addRules(pl *plan, chains map[string]*nftables.Chain, sets map[string]*nftables.Set) error {
	for _, cs := range pl.chains {
		for _, r := range cs.rules {
			exprs := r.exprs
			if r.vmap != nil {
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

// sameHook reports whether an existing chain can be kept as the chain b
// describes: both regular, or both hooked the same way.
func sameHook(old *nftables.Chain, b *baseChain) bool {
	if b == nil || old.Hooknum == nil {
		return b == nil && old.Hooknum == nil
	}
	return old.Type == b.typ && *old.Hooknum == *b.hook && old.Priority != nil && *old.Priority == *b.priority
}
