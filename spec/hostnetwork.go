package spec

import "strings"

// HostPortOf returns the node port a container port takes: its hostPort,
// or, in a host-network pod, its containerPort (Kubernetes defaults a
// host-network pod's hostPort to its containerPort; Stevedore does so here
// instead of in the stored spec, so that a template's hash does not change
// with the defaulting, as Kubernetes leaves templates alone too). Zero
// means none.
func (s *PodSpec) HostPortOf(p ContainerPort) int32 {
	if p.HostPort == 0 && s.HostNetwork {
		return p.ContainerPort
	}
	return p.HostPort
}

// hostNetwork checks a host-network pod as Kubernetes' validateHostNetwork
// and validateSysctls do: a hostPort, when set, equals its containerPort
// (the container listens on the node's port itself, nothing forwards it),
// and the pod sets no net.* sysctl (those would be the node's).
func (v *validator) hostNetwork(s *PodSpec, p fieldPath) {
	if !s.HostNetwork {
		return
	}
	check := func(cs []Container, cp fieldPath) {
		for i := range cs {
			for j, port := range cs[i].Ports {
				if port.HostPort != 0 && port.HostPort != port.ContainerPort {
					v.add(cp.index(i).child("ports").index(j).child("hostPort"),
						"invalid value %d: must match `containerPort` when `hostNetwork` is true", port.HostPort)
				}
			}
		}
	}
	check(s.InitContainers, p.child("initContainers"))
	check(s.Containers, p.child("containers"))
	if sc := s.SecurityContext; sc != nil {
		for i, sy := range sc.Sysctls {
			if strings.HasPrefix(strings.ReplaceAll(sy.Name, "/", "."), "net.") {
				v.add(p.child("securityContext").child("sysctls").index(i).child("name"),
					"invalid value %q: may not be specified when `hostNetwork` is true", sy.Name)
			}
		}
	}
}
