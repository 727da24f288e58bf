package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"

	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// ipam hands out pod IPs from the node's pod CIDR, in process. Every
// change is written durably (atomicfile: fsync, rename, fsync) before the
// IP is used, so that a restarted agent never hands out the IP of a pod
// still running, and so that the file is also the list of network
// namespaces and veths this runtime created: what it lists for no known pod
// is a leftover of a killed run, and only that is removed (other agents on
// the same host have their own).
//
// Writes are group-committed: pods attached together (a Sync of 30) share
// one write and its fsyncs instead of queueing for one each, and each
// caller still returns only once its own change is on disk.
type ipam struct {
	path string

	mu  sync.Mutex
	st  ipamState
	gen uint64 // changes made to st

	flushMu sync.Mutex // one write at a time
	saved   uint64     // gen on disk; guarded by mu
}

type ipamState struct {
	// Pods maps a pod ID (podID) to its IP.
	Pods map[string]string `json:"pods"`
	// Last is the last IP handed out: the next search starts after it, so
	// that a released IP is not given to the next pod at once (a peer may
	// still hold connections or a cached DNS answer for it).
	Last string `json:"last,omitempty"`
}

// loadIPAM reads the allocations at path; a missing file is an empty
// state. A file that does not parse is an error: it is written atomically,
// so that is corruption, and guessing could hand out a running pod's IP.
func loadIPAM(path string) (*ipam, error) {
	a := &ipam{path: path, st: ipamState{Pods: map[string]string{}}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read IPAM state: %w", err)
	}
	if err := json.Unmarshal(b, &a.st); err != nil {
		// Say how to get out: the agent will not start until the file
		// parses, and adoption rebuilds it from the pods' own records.
		return nil, fmt.Errorf("failed to read IPAM state %s: %w (the file is corrupt; with the agent stopped, move it away and start the agent again: the pods it adopts keep their recorded IPs, only leftovers of pods already gone are no longer found)", path, err)
	}
	if a.st.Pods == nil {
		a.st.Pods = map[string]string{}
	}
	return a, nil
}

// commit returns once the state of generation gen (or a later one) is on
// disk. a.mu is not held. Whoever gets flushMu writes the newest state,
// covering every change made meanwhile.
func (a *ipam) commit(gen uint64) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	if a.saved >= gen {
		a.mu.Unlock()
		return nil
	}
	cur := a.gen
	b, err := json.Marshal(a.st)
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("failed to encode IPAM state: %w", err)
	}
	if err := atomicfile.WriteFile(a.path, b, 0o600); err != nil {
		return fmt.Errorf("failed to save IPAM state: %w", err)
	}
	a.mu.Lock()
	a.saved = cur
	a.mu.Unlock()
	return nil
}

// allocate returns the pod's IP in cidr: the one it holds already if it is
// in cidr (a retried set-up), else the next free address after the last
// one handed out, skipping the network, gateway and broadcast addresses.
//
// On a failed write the allocation stays in memory (the caller's teardown
// releases it): the file may hold it already.
func (a *ipam) allocate(id string, cidr *net.IPNet, gateway net.IP) (net.IP, error) {
	ip, gen, err := a.pick(id, cidr, gateway)
	if err != nil {
		return nil, err
	}
	if err := a.commit(gen); err != nil {
		return nil, err
	}
	return ip, nil
}

// pick chooses the pod's IP in memory and returns the state's generation
// that holds it.
func (a *ipam) pick(id string, cidr *net.IPNet, gateway net.IP) (net.IP, uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := net.ParseIP(a.st.Pods[id]); cur != nil && cidr.Contains(cur) {
		return cur, a.gen, nil
	}
	base, size, err := ipv4Range(cidr)
	if err != nil {
		return nil, 0, err
	}
	used := make(map[uint32]bool, len(a.st.Pods))
	for _, s := range a.st.Pods {
		if ip := net.ParseIP(s).To4(); ip != nil {
			used[binary.BigEndian.Uint32(ip)] = true
		}
	}
	gw := binary.BigEndian.Uint32(gateway.To4())
	start := uint32(0)
	if last := net.ParseIP(a.st.Last).To4(); last != nil && cidr.Contains(last) {
		start = binary.BigEndian.Uint32(last) - base
	}
	for i := uint32(1); i <= size; i++ {
		off := (start + i) % size
		ip := base + off
		if off == 0 || off == size-1 || ip == gw || used[ip] {
			continue
		}
		out := make(net.IP, 4)
		binary.BigEndian.PutUint32(out, ip)
		a.st.Pods[id] = out.String()
		a.st.Last = out.String()
		a.gen++
		return out, a.gen, nil
	}
	return nil, 0, fmt.Errorf("failed to allocate a pod IP: %s is full (%d pods)", cidr, len(a.st.Pods))
}

// ipv4Range returns the first address of cidr and its number of addresses.
func ipv4Range(cidr *net.IPNet) (base, size uint32, err error) {
	ip := cidr.IP.To4()
	ones, bits := cidr.Mask.Size()
	if ip == nil || bits != 32 {
		return 0, 0, fmt.Errorf("failed to allocate a pod IP: %s is not an IPv4 CIDR", cidr)
	}
	if ones > 30 {
		return 0, 0, fmt.Errorf("failed to allocate a pod IP: %s is too small", cidr)
	}
	return binary.BigEndian.Uint32(ip), uint32(1) << (32 - ones), nil
}

// release forgets the pod's IP; an unknown pod is fine.
func (a *ipam) release(id string) error {
	a.mu.Lock()
	if _, ok := a.st.Pods[id]; !ok {
		a.mu.Unlock()
		return nil
	}
	delete(a.st.Pods, id)
	a.gen++
	gen := a.gen
	a.mu.Unlock()
	return a.commit(gen)
}

// retain makes the state match the pods a restarted runtime adopted: live
// maps their IDs to the IPs in their records ("" keeps what the file says,
// for a pod whose sandbox is rebuilt). Entries of other pods are dropped
// and their IDs returned, sorted, for their netns and veth to be removed.
func (a *ipam) retain(live map[string]string) ([]string, error) {
	a.mu.Lock()
	var stale []string
	changed := false
	for id := range a.st.Pods {
		if _, ok := live[id]; !ok {
			stale = append(stale, id)
			delete(a.st.Pods, id)
			changed = true
		}
	}
	for id, ip := range live {
		if ip != "" && a.st.Pods[id] != ip {
			a.st.Pods[id] = ip
			changed = true
		}
	}
	sort.Strings(stale)
	if !changed {
		a.mu.Unlock()
		return stale, nil
	}
	a.gen++
	gen := a.gen
	a.mu.Unlock()
	return stale, a.commit(gen)
}

// ids returns the pod IDs holding an IP.
func (a *ipam) ids() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.st.Pods))
	for id, ip := range a.st.Pods {
		out[id] = ip
	}
	return out
}
