package api

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

// Serf tag keys an agent (and the reconciler) advertise in membership.
const (
	TagRole   = "role"   // RoleAgent or RoleReconciler
	TagAPI    = "api"    // base URL of the member's HTTP API
	TagCPU    = "cpu"    // allocatable millicores
	TagMemory = "mem"    // allocatable memory, bytes
	TagPods   = "pods"   // max pods
	TagEph    = "eph"    // allocatable ephemeral storage, bytes
	TagLabels = "labels" // k=v,k=v (sorted)
	TagTaints = "taints" // k=v:Effect,k:Effect (in order)
	TagCIDR   = "cidr"   // pod CIDR
	TagExt    = "ext"    // extended resources and hugepages: name=count,… (sorted)

	RoleAgent      = "agent"
	RoleReconciler = "reconciler"
)

// MaxTagBytes is serf's limit on the encoded size of a member's tags.
const MaxTagBytes = 512

// ErrTagsTooLarge is returned by EncodeTags when the node's labels and taints
// do not fit in serf's tag limit.
var ErrTagsTooLarge = errors.New("node tags exceed serf's 512-byte limit")

// EncodeTags renders a node's info as serf tags.
func EncodeTags(n NodeInfo) (map[string]string, error) {
	t := map[string]string{
		TagRole:   RoleAgent,
		TagAPI:    n.APIAddr,
		TagCPU:    strconv.FormatInt(n.Allocatable.MilliCPU, 10),
		TagMemory: strconv.FormatInt(n.Allocatable.Memory, 10),
		TagPods:   strconv.FormatInt(n.Allocatable.Pods, 10),
	}
	if n.Allocatable.EphemeralStorage > 0 {
		t[TagEph] = strconv.FormatInt(n.Allocatable.EphemeralStorage, 10)
	}
	if n.PodCIDR != "" {
		t[TagCIDR] = n.PodCIDR
	}
	if n.Version != "" {
		t[TagVersion] = n.Version
	}
	if n.Protocol != (ProtocolRange{}) {
		t[TagProtocol] = n.Protocol.Tag()
	}
	if len(n.Allocatable.Extended) > 0 {
		names := make([]string, 0, len(n.Allocatable.Extended))
		for name := range n.Allocatable.Extended {
			names = append(names, name)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, name := range names {
			parts[i] = name + "=" + strconv.FormatInt(n.Allocatable.Extended[name], 10)
		}
		t[TagExt] = strings.Join(parts, ",")
	}
	if len(n.Labels) > 0 {
		keys := make([]string, 0, len(n.Labels))
		for k := range n.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + n.Labels[k]
		}
		t[TagLabels] = strings.Join(parts, ",")
	}
	if len(n.Taints) > 0 {
		parts := make([]string, len(n.Taints))
		for i, tt := range n.Taints {
			kv := tt.Key
			if tt.Value != "" {
				kv += "=" + tt.Value
			}
			parts[i] = kv + ":" + tt.Effect
		}
		t[TagTaints] = strings.Join(parts, ",")
	}
	size := 0
	for k, v := range t {
		size += len(k) + len(v) + 2
	}
	if size > MaxTagBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrTagsTooLarge, size)
	}
	return t, nil
}

// DecodeTags parses an agent's serf tags back into NodeInfo; name is the
// serf member name.
func DecodeTags(name string, t map[string]string) (NodeInfo, error) {
	n := NodeInfo{Name: name, APIAddr: t[TagAPI], PodCIDR: t[TagCIDR], Version: t[TagVersion]}
	if t[TagRole] != RoleAgent {
		return n, fmt.Errorf("member %q has role %q, not %q", name, t[TagRole], RoleAgent)
	}
	// No tag: an agent from before negotiation, which speaks Protocol1.
	pr, err := ParseProtocolRange(t[TagProtocol])
	if err != nil {
		return n, fmt.Errorf("member %q: %w", name, err)
	}
	n.Protocol = pr
	parse := func(key string, dst *int64) {
		if err != nil || t[key] == "" {
			return
		}
		v, perr := strconv.ParseInt(t[key], 10, 64)
		if perr != nil {
			err = fmt.Errorf("member %q: failed to parse tag %s=%q: %w", name, key, t[key], perr)
			return
		}
		*dst = v
	}
	parse(TagCPU, &n.Allocatable.MilliCPU)
	parse(TagMemory, &n.Allocatable.Memory)
	parse(TagPods, &n.Allocatable.Pods)
	parse(TagEph, &n.Allocatable.EphemeralStorage)
	if err != nil {
		return n, err
	}
	if s := t[TagExt]; s != "" {
		n.Allocatable.Extended = map[string]int64{}
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			q, perr := strconv.ParseInt(v, 10, 64)
			if !ok || k == "" || perr != nil || q < 0 {
				return n, fmt.Errorf("member %q: failed to parse extended resource %q: want name=count", name, kv)
			}
			n.Allocatable.Extended[k] = q
		}
	}
	if s := t[TagLabels]; s != "" {
		n.Labels = map[string]string{}
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n.Labels[k] = v
		}
	}
	if s := t[TagTaints]; s != "" {
		for _, part := range strings.Split(s, ",") {
			kv, effect, ok := strings.Cut(part, ":")
			if !ok {
				return n, fmt.Errorf("member %q: failed to parse taint %q: want key[=value]:Effect", name, part)
			}
			k, v, _ := strings.Cut(kv, "=")
			n.Taints = append(n.Taints, spec.Taint{Key: k, Value: v, Effect: effect})
		}
	}
	return n, nil
}
