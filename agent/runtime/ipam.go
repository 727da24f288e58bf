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
type ipam struct {
	path string

	mu sync.Mutex
	st ipamState
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
		return nil, fmt.Errorf("failed to read IPAM state %s: %w", path, err)
	}
	if a.st.Pods == nil {
		a.st.Pods = map[string]string{}
	}
	return a, nil
}

// saveLocked persists the state; a.mu is held.
func (a *ipam) saveLocked() error {
	b, err := json.Marshal(a.st)
	if err != nil {
		return fmt.Errorf("failed to encode IPAM state: %w", err)
	}
	if err := atomicfile.WriteFile(a.path, b, 0o600); err != nil {
		return fmt.Errorf("failed to save IPAM state: %w", err)
	}
	return nil
}

// allocate returns the pod's IP in cidr: the one it holds already if it is
// in cidr (a retried set-up), else the next free address after the last
// one handed out, skipping the network, gateway and broadcast addresses.
func (a *ipam) allocate(id string, cidr *net.IPNet, gateway net.IP) (net.IP, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur := net.ParseIP(a.st.Pods[id]); cur != nil && cidr.Contains(cur) {
		return cur, nil
	}
	base, size, err := ipv4Range(cidr)
	if err != nil {
		return nil, err
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
		prev, had := a.st.Pods[id]
		a.st.Pods[id] = out.String()
		prevLast := a.st.Last
		a.st.Last = out.String()
		if err := a.saveLocked(); err != nil {
			if had {
				a.st.Pods[id] = prev
			} else {
				delete(a.st.Pods, id)
			}
			a.st.Last = prevLast
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("failed to allocate a pod IP: %s is full (%d pods)", cidr, len(a.st.Pods))
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
	defer a.mu.Unlock()
	ip, ok := a.st.Pods[id]
	if !ok {
		return nil
	}
	delete(a.st.Pods, id)
	if err := a.saveLocked(); err != nil {
		a.st.Pods[id] = ip
		return err
	}
	return nil
}

// retain makes the state match the pods a restarted runtime adopted: live
// maps their IDs to the IPs in their records ("" keeps what the file says,
// for a pod whose sandbox is rebuilt). Entries of other pods are dropped
// and their IDs returned, sorted, for their netns and veth to be removed.
func (a *ipam) retain(live map[string]string) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
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
		return stale, nil
	}
	return stale, a.saveLocked()
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
