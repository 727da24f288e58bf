package spec

import (
	"regexp"
	"strings"
)

// This file checks pod and container security contexts as Kubernetes'
// ValidatePodSecurityContext and ValidateSecurityContext do, and what
// Kubernetes leaves to the runtime to refuse: capability names, and
// sysctls outside the pod's namespaces. Whether a pod may be privileged or
// add capabilities beyond the baseline is policy, checked with the
// Namespace in storage_rules.go.

// maxUserID is the largest UID or GID Kubernetes accepts (2^31-1).
const maxUserID = 2147483647

// Pod fsGroupChangePolicy values.
const (
	FSGroupChangeOnRootMismatch = "OnRootMismatch"
	FSGroupChangeAlways         = "Always"
)

// linuxCapabilities are the Linux capability names, without "CAP_", as
// capabilities(7) lists them.
var linuxCapabilities = []string{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
	"NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
	"AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"}

// CapabilityAll in capabilities.drop drops every capability (and, in add,
// adds every one).
const CapabilityAll = "ALL"

// BaselineCapabilities are the capabilities Kubernetes' "baseline" pod
// security standard lets a container add; adding any other needs the
// namespace's AllowPrivilegedAnnotation.
var BaselineCapabilities = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
	"MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// CapabilityName returns the canonical name of a capability as a manifest
// writes it ("net_admin", "CAP_NET_ADMIN" → "NET_ADMIN"; "all" → "ALL"),
// and whether it is a Linux capability (or ALL).
func CapabilityName(s string) (string, bool) {
	n := strings.TrimPrefix(strings.ToUpper(s), "CAP_")
	return n, n == CapabilityAll || containsString(linuxCapabilities, n)
}

var sysctlNameRE = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// NamespacedSysctl reports whether a sysctl belongs to a pod's own
// namespaces (network and IPC), so that setting it touches no other pod:
// net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*, written with
// dots or slashes.
func NamespacedSysctl(name string) bool {
	n := strings.ReplaceAll(name, "/", ".")
	return strings.HasPrefix(n, "net.") || strings.HasPrefix(n, "kernel.shm") ||
		strings.HasPrefix(n, "kernel.msg") || n == "kernel.sem" || strings.HasPrefix(n, "fs.mqueue.")
}

func (v *validator) userID(id *int64, p fieldPath) {
	if id != nil && (*id < 0 || *id > maxUserID) {
		v.add(p, "invalid value %d: must be between 0 and %d, inclusive", *id, maxUserID)
	}
}

func (v *validator) securityContext(sc *SecurityContext, p fieldPath) {
	if sc == nil {
		return
	}
	v.userID(sc.RunAsUser, p.child("runAsUser"))
	v.userID(sc.RunAsGroup, p.child("runAsGroup"))
	v.seccomp(sc.SeccompProfile, p.child("seccompProfile"))
	noEscalation := sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	if noEscalation && sc.Privileged != nil && *sc.Privileged {
		v.add(p, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true")
	}
	if c := sc.Capabilities; c != nil {
		cp := p.child("capabilities")
		for _, list := range []struct {
			name string
			caps []string
		}{{"add", c.Add}, {"drop", c.Drop}} {
			for i, name := range list.caps {
				n, ok := CapabilityName(name)
				if !ok {
					v.add(cp.child(list.name).index(i), "unsupported value %q: not a Linux capability (e.g. NET_ADMIN or CAP_NET_ADMIN; ALL)", name)
					continue
				}
				if list.name == "add" && noEscalation && (n == "SYS_ADMIN" || n == CapabilityAll) {
					v.add(cp.child("add").index(i), "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN")
				}
			}
		}
	}
}

func (v *validator) seccomp(sp *SeccompProfile, p fieldPath) {
	if sp == nil {
		return
	}
	switch sp.Type {
	case SeccompProfileRuntimeDefault, SeccompProfileUnconfined:
		if sp.LocalhostProfile != nil {
			v.add(p.child("localhostProfile"), "forbidden: can only be set for seccomp profile type Localhost")
		}
	case SeccompProfileLocalhost:
		v.add(p.child("type"), "unsupported value %q: not supported by Stevedore (no profile files are installed on its nodes); supported values: %q, %q", sp.Type, SeccompProfileRuntimeDefault, SeccompProfileUnconfined)
	case "":
		v.add(p.child("type"), "required")
	default:
		v.add(p.child("type"), "unsupported value %q: supported values: %q, %q", sp.Type, SeccompProfileRuntimeDefault, SeccompProfileUnconfined)
	}
}

func (v *validator) podSecurityContext(sc *PodSecurityContext, p fieldPath) {
	if sc == nil {
		return
	}
	v.userID(sc.RunAsUser, p.child("runAsUser"))
	v.userID(sc.RunAsGroup, p.child("runAsGroup"))
	v.userID(sc.FSGroup, p.child("fsGroup"))
	for i := range sc.SupplementalGroups {
		v.userID(&sc.SupplementalGroups[i], p.child("supplementalGroups").index(i))
	}
	if f := sc.FSGroupChangePolicy; f != nil && *f != FSGroupChangeOnRootMismatch && *f != FSGroupChangeAlways {
		v.add(p.child("fsGroupChangePolicy"), "unsupported value %q: supported values: %q, %q", *f, FSGroupChangeOnRootMismatch, FSGroupChangeAlways)
	}
	v.seccomp(sc.SeccompProfile, p.child("seccompProfile"))
	seen := map[string]int{}
	for i, s := range sc.Sysctls {
		np := p.child("sysctls").index(i).child("name")
		switch {
		case s.Name == "":
			v.add(np, "required")
		case len(s.Name) > dns1123SubdomainMaxLength || !sysctlNameRE.MatchString(s.Name):
			v.add(np, "invalid value %q: must have at most %d characters and match the regex %s", s.Name, dns1123SubdomainMaxLength, sysctlNameRE.String())
		case !NamespacedSysctl(s.Name):
			v.add(np, "invalid value %q: not a namespaced sysctl: a pod may set only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* (the others are the node's, shared by every pod)", s.Name)
		default:
			n := strings.ReplaceAll(s.Name, "/", ".")
			if j, dup := seen[n]; dup {
				v.add(np, "duplicate value %q: sysctls[%d] sets it too", s.Name, j)
			}
			seen[n] = i
		}
	}
}
