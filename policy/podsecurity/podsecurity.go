// Package podsecurity applies Kubernetes' Pod Security Standards
// (privileged, baseline, restricted) to pod templates, as the
// pod-security.kubernetes.io labels of their Namespace ask, and words each
// refusal as Kubernetes' PodSecurity admission does:
//
//	violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), ...
//
// It is pure: a Namespace and an object in, violations out. Kubernetes
// checks pods only and warns about workloads; Stevedore has no pod
// admission, so it checks the pod template of every workload kind at sync.
package podsecurity

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

// Level is a Pod Security Standards level.
type Level string

// The levels, from the most to the least permissive.
const (
	LevelPrivileged Level = "privileged"
	LevelBaseline   Level = "baseline"
	LevelRestricted Level = "restricted"
)

// The Namespace labels that select a level, per mode, and its version.
const (
	LabelPrefix         = "pod-security.kubernetes.io/"
	EnforceLabel        = LabelPrefix + "enforce"
	EnforceVersionLabel = LabelPrefix + "enforce-version"
	WarnLabel           = LabelPrefix + "warn"
	WarnVersionLabel    = LabelPrefix + "warn-version"
	AuditLabel          = LabelPrefix + "audit"
	AuditVersionLabel   = LabelPrefix + "audit-version"
)

// VersionLatest is the version label's default: the newest rules.
const VersionLatest = "latest"

var versionRE = regexp.MustCompile(`^v1\.(0|[1-9][0-9]*)$`)

// Policy is one mode's level and version ("restricted", "latest").
type Policy struct {
	Level   Level
	Version string
}

// String is Kubernetes' name of the policy: "restricted:latest".
func (p Policy) String() string { return string(p.Level) + ":" + p.Version }

// Policies are a Namespace's three modes. A mode without its label is the
// privileged level, which checks nothing (Kubernetes' default when the
// admission configuration sets none).
type Policies struct {
	Enforce, Warn, Audit Policy
	// Labelled says the Namespace has an enforce label: the level, not
	// Stevedore's annotations (CheckAnnotations), decides.
	Labelled bool
}

// LabelError is a pod-security label with a value Kubernetes does not
// accept.
type LabelError struct {
	Label, Value, Reason string
}

func (e *LabelError) Error() string {
	return fmt.Sprintf("invalid value %q: %s", e.Value, e.Reason)
}

// PoliciesOf reads the pod-security labels of a Namespace (nil: one the
// repository does not declare, such as "default": privileged). A bad value
// is an error naming the label.
func PoliciesOf(ns *spec.Namespace) (Policies, error) {
	var labels map[string]string
	if ns != nil {
		labels = ns.Labels
	}
	var ps Policies
	for _, m := range []struct {
		level, version string
		into           *Policy
	}{{EnforceLabel, EnforceVersionLabel, &ps.Enforce}, {WarnLabel, WarnVersionLabel, &ps.Warn}, {AuditLabel, AuditVersionLabel, &ps.Audit}} {
		p := Policy{Level: LevelPrivileged, Version: VersionLatest}
		if v, ok := labels[m.level]; ok {
			ps.Labelled = ps.Labelled || m.level == EnforceLabel
			switch l := Level(v); l {
			case LevelPrivileged, LevelBaseline, LevelRestricted:
				p.Level = l
			default:
				return ps, &LabelError{Label: m.level, Value: v, Reason: `must be one of "privileged", "baseline", "restricted"`}
			}
		}
		if v, ok := labels[m.version]; ok {
			if v != VersionLatest && !versionRE.MatchString(v) {
				return ps, &LabelError{Label: m.version, Value: v, Reason: `must be "latest" or "v1.<minor>" (v1.30)`}
			}
			p.Version = v
		}
		*m.into = p
	}
	return ps, nil
}

// Violation is one check a pod failed: Kubernetes' forbidden reason and
// its detail.
type Violation struct {
	// Check is the check's ID in Kubernetes' pod-security-admission
	// ("allowPrivilegeEscalation", "capabilities_restricted").
	Check  string
	Reason string
	Detail string
}

// Message words violations as Kubernetes' PodSecurity admission does, or
// "" when there are none.
func Message(p Policy, vs []Violation) string {
	if len(vs) == 0 {
		return ""
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.Reason
		if v.Detail != "" {
			parts[i] += " (" + v.Detail + ")"
		}
	}
	return fmt.Sprintf("violates PodSecurity %q: %s", p.String(), strings.Join(parts, ", "))
}

// check is one rule: its ID, the least level it applies at, the IDs of the
// baseline checks it replaces at its level, and the test.
type check struct {
	id        string
	level     Level
	overrides []string
	run       func(meta *spec.ObjectMeta, ps *spec.PodSpec) *Violation
}

// checks are sorted by ID, the order Kubernetes reports them in.
var checks = []check{
	{id: "allowPrivilegeEscalation", level: LevelRestricted, run: allowPrivilegeEscalation},
	{id: "appArmorProfile", level: LevelBaseline, run: appArmorProfile},
	{id: "capabilities_baseline", level: LevelBaseline, run: capabilitiesBaseline},
	{id: "capabilities_restricted", level: LevelRestricted, overrides: []string{"capabilities_baseline"}, run: capabilitiesRestricted},
	{id: "hostNamespaces", level: LevelBaseline, run: hostNamespaces},
	{id: "hostPathVolumes", level: LevelBaseline, run: hostPathVolumes},
	{id: "hostPorts", level: LevelBaseline, run: hostPorts},
	{id: "privileged", level: LevelBaseline, run: privileged},
	{id: "restrictedVolumes", level: LevelRestricted, overrides: []string{"hostPathVolumes"}, run: restrictedVolumes},
	{id: "runAsNonRoot", level: LevelRestricted, run: runAsNonRoot},
	{id: "runAsUser", level: LevelRestricted, run: runAsUser},
	{id: "seccompProfile_baseline", level: LevelBaseline, run: seccompBaseline},
	{id: "seccompProfile_restricted", level: LevelRestricted, overrides: []string{"seccompProfile_baseline"}, run: seccompRestricted},
	{id: "sysctls", level: LevelBaseline, run: sysctls},
}

// hostPID, hostIPC, SELinux options, procMount and Windows host processes
// have no check here: Stevedore's decoder refuses those fields in every
// namespace ("not supported by Stevedore"), so no loaded pod has them.
// hostNetwork is supported, and checked (hostNamespaces).

// CheckPod returns what the pod spec ps (with its template's metadata)
// violates at level, in Kubernetes' order. Privileged checks nothing.
func CheckPod(level Level, meta *spec.ObjectMeta, ps *spec.PodSpec) []Violation {
	if level != LevelBaseline && level != LevelRestricted {
		return nil
	}
	skip := map[string]bool{}
	for _, c := range checks {
		if applies(c.level, level) {
			for _, o := range c.overrides {
				skip[o] = true
			}
		}
	}
	var out []Violation
	for _, c := range checks {
		if !applies(c.level, level) || skip[c.id] {
			continue
		}
		if v := c.run(meta, ps); v != nil {
			v.Check = c.id
			out = append(out, *v)
		}
	}
	return out
}

func applies(checkLevel, level Level) bool {
	return checkLevel == LevelBaseline || level == LevelRestricted
}

// CheckObject checks the pod template of a workload (or a Pod) at level;
// nil for objects without one. A PodTemplate is a template for others to
// use, not a pod: it is not checked.
func CheckObject(level Level, o spec.Object) []Violation {
	if o.GetTypeMeta().Kind == spec.KindPodTemplate {
		return nil
	}
	ps, _ := spec.PodSpecOf(o)
	if ps == nil {
		return nil
	}
	return CheckPod(level, templateMeta(o), ps)
}

// templateMeta is the metadata of o's pods: its pod template's, or the
// Pod's own.
func templateMeta(o spec.Object) *spec.ObjectMeta {
	switch o := o.(type) {
	case *spec.Pod:
		return &o.ObjectMeta
	case *spec.Deployment:
		return &o.Spec.Template.ObjectMeta
	case *spec.ReplicaSet:
		return &o.Spec.Template.ObjectMeta
	case *spec.StatefulSet:
		return &o.Spec.Template.ObjectMeta
	case *spec.DaemonSet:
		return &o.Spec.Template.ObjectMeta
	case *spec.Job:
		return &o.Spec.Template.ObjectMeta
	case *spec.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.ObjectMeta
	case *spec.ReplicationController:
		if o.Spec.Template != nil {
			return &o.Spec.Template.ObjectMeta
		}
	}
	return &spec.ObjectMeta{}
}

// containers visits init containers, then containers, as Kubernetes'
// visitContainers does.
func containers(ps *spec.PodSpec, f func(c *spec.Container)) {
	for i := range ps.InitContainers {
		f(&ps.InitContainers[i])
	}
	for i := range ps.Containers {
		f(&ps.Containers[i])
	}
}

func pluralize(one, many string, n int) string {
	if n == 1 {
		return one
	}
	return many
}

func joinQuote(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

func containerList(names []string) string {
	return pluralize("container", "containers", len(names)) + " " + joinQuote(names)
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

func privileged(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var bad []string
	containers(ps, func(c *spec.Container) {
		if c.SecurityContext != nil && isTrue(c.SecurityContext.Privileged) {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: "privileged", Detail: containerList(bad) + " must not set securityContext.privileged=true"}
}

func capabilitiesBaseline(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var bad []string
	caps := map[string]bool{}
	containers(ps, func(c *spec.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			return
		}
		found := false
		for _, a := range c.SecurityContext.Capabilities.Add {
			if n, _ := spec.CapabilityName(a); !slices.Contains(spec.BaselineCapabilities, n) {
				caps[a], found = true, true
			}
		}
		if found {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: "non-default capabilities", Detail: fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containerList(bad), joinQuote(sortedSet(caps)))}
}

func capabilitiesRestricted(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var noDrop, adding []string
	caps := map[string]bool{}
	containers(ps, func(c *spec.Container) {
		if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
			noDrop = append(noDrop, c.Name)
			return
		}
		cs := c.SecurityContext.Capabilities
		if !slices.ContainsFunc(cs.Drop, func(d string) bool { n, _ := spec.CapabilityName(d); return n == spec.CapabilityAll }) {
			noDrop = append(noDrop, c.Name)
		}
		found := false
		for _, a := range cs.Add {
			if n, _ := spec.CapabilityName(a); n != "NET_BIND_SERVICE" {
				caps[a], found = true, true
			}
		}
		if found {
			adding = append(adding, c.Name)
		}
	})
	var details []string
	if len(noDrop) > 0 {
		details = append(details, containerList(noDrop)+` must set securityContext.capabilities.drop=["ALL"]`)
	}
	if len(adding) > 0 {
		details = append(details, fmt.Sprintf("%s must not include %s in securityContext.capabilities.add", containerList(adding), joinQuote(sortedSet(caps))))
	}
	if len(details) == 0 {
		return nil
	}
	return &Violation{Reason: "unrestricted capabilities", Detail: strings.Join(details, "; ")}
}

func hostPathVolumes(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var bad []string
	for _, v := range ps.Volumes {
		if v.HostPath != nil {
			bad = append(bad, v.Name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: "hostPath volumes", Detail: pluralize("volume", "volumes", len(bad)) + " " + joinQuote(bad)}
}

func restrictedVolumes(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var bad []string
	types := map[string]bool{}
	for _, v := range ps.Volumes {
		switch {
		case v.ConfigMap != nil, v.DownwardAPI != nil, v.EmptyDir != nil, v.PersistentVolumeClaim != nil,
			v.Projected != nil, v.Secret != nil:
		case v.HostPath != nil:
			bad = append(bad, v.Name)
			types["hostPath"] = true
		default:
			bad = append(bad, v.Name)
			types["unknown"] = true
		}
	}
	if len(bad) == 0 {
		return nil
	}
	t := sortedSet(types)
	return &Violation{Reason: "restricted volume types", Detail: fmt.Sprintf("%s %s %s %s %s",
		pluralize("volume", "volumes", len(bad)), joinQuote(bad), pluralize("uses", "use", len(bad)),
		pluralize("restricted volume type", "restricted volume types", len(t)), joinQuote(t))}
}

// hostNamespaces is Kubernetes' check of the same name; of the host
// namespaces only hostNetwork can be loaded here.
func hostNamespaces(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	if !ps.HostNetwork {
		return nil
	}
	return &Violation{Reason: "host namespaces", Detail: "hostNetwork=true"}
}

func hostPorts(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var bad []string
	var ports []string
	containers(ps, func(c *spec.Container) {
		found := false
		for _, p := range c.Ports {
			// A host-network pod's ports are host ports (Kubernetes
			// defaults its hostPorts to them before admission).
			if hp := ps.HostPortOf(p); hp != 0 {
				found = true
				ports = append(ports, strconv.Itoa(int(hp)))
			}
		}
		if found {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: "hostPort", Detail: fmt.Sprintf("%s %s %s %s", containerList(bad), pluralize("uses", "use", len(bad)),
		pluralize("hostPort", "hostPorts", len(ports)), strings.Join(ports, ", "))}
}

// AppArmor profiles a baseline pod may ask for through the beta
// annotations (the fields are not supported by Stevedore).
const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

func appArmorProfile(meta *spec.ObjectMeta, _ *spec.PodSpec) *Violation {
	var bad []string
	for _, k := range sortedKeys(meta.Annotations) {
		if !strings.HasPrefix(k, appArmorAnnotationPrefix) {
			continue
		}
		v := meta.Annotations[k]
		if v != "runtime/default" && !strings.HasPrefix(v, "localhost/") {
			bad = append(bad, fmt.Sprintf("%s=%q", k, v))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad)), Detail: strings.Join(bad, ", ")}
}

func seccompBaseline(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var details []string
	if sc := ps.SecurityContext; sc != nil && sc.SeccompProfile != nil && sc.SeccompProfile.Type == spec.SeccompProfileUnconfined {
		details = append(details, `pod must not set securityContext.seccompProfile.type to "Unconfined"`)
	}
	var bad []string
	containers(ps, func(c *spec.Container) {
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil && sc.SeccompProfile.Type == spec.SeccompProfileUnconfined {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) > 0 {
		details = append(details, containerList(bad)+` must not set securityContext.seccompProfile.type to "Unconfined"`)
	}
	if len(details) == 0 {
		return nil
	}
	return &Violation{Reason: "seccompProfile", Detail: strings.Join(details, "; ")}
}

func seccompRestricted(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	valid := func(p *spec.SeccompProfile) bool {
		return p.Type == spec.SeccompProfileRuntimeDefault || p.Type == spec.SeccompProfileLocalhost
	}
	podSet := false
	var details []string
	if sc := ps.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		if valid(sc.SeccompProfile) {
			podSet = true
		} else {
			details = append(details, fmt.Sprintf("pod must not set securityContext.seccompProfile.type to %q", sc.SeccompProfile.Type))
		}
	}
	var badSetters, unset []string
	containers(ps, func(c *spec.Container) {
		if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
			if !valid(sc.SeccompProfile) {
				badSetters = append(badSetters, c.Name)
			}
			return
		}
		if !podSet {
			unset = append(unset, c.Name)
		}
	})
	if len(badSetters) > 0 {
		details = append(details, containerList(badSetters)+` must not set securityContext.seccompProfile.type to "Unconfined"`)
	}
	if len(unset) > 0 && len(details) == 0 {
		details = append(details, fmt.Sprintf(`pod or %s must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`, containerList(unset)))
	}
	if len(details) == 0 {
		return nil
	}
	return &Violation{Reason: "seccompProfile", Detail: strings.Join(details, "; ")}
}

// safeSysctls are the sysctls the baseline level allows (Kubernetes 1.32+).
var safeSysctls = []string{"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}

func sysctls(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	if ps.SecurityContext == nil {
		return nil
	}
	var bad []string
	for _, s := range ps.SecurityContext.Sysctls {
		if !slices.Contains(safeSysctls, strings.ReplaceAll(s.Name, "/", ".")) {
			bad = append(bad, s.Name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: "forbidden sysctls", Detail: strings.Join(bad, ", ")}
}

func allowPrivilegeEscalation(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var bad []string
	containers(ps, func(c *spec.Container) {
		if c.SecurityContext == nil || !isFalse(c.SecurityContext.AllowPrivilegeEscalation) {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) == 0 {
		return nil
	}
	return &Violation{Reason: "allowPrivilegeEscalation != false", Detail: containerList(bad) + " must set securityContext.allowPrivilegeEscalation=false"}
}

func runAsNonRoot(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var badSetters []string
	podNonRoot := false
	if sc := ps.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		if *sc.RunAsNonRoot {
			podNonRoot = true
		} else {
			badSetters = append(badSetters, "pod")
		}
	}
	var explicit, implicit []string
	containers(ps, func(c *spec.Container) {
		if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
			if !*sc.RunAsNonRoot {
				explicit = append(explicit, c.Name)
			}
		} else if !podNonRoot {
			implicit = append(implicit, c.Name)
		}
	})
	if len(explicit) > 0 {
		badSetters = append(badSetters, containerList(explicit))
	}
	if len(badSetters) > 0 {
		return &Violation{Reason: "runAsNonRoot != true", Detail: strings.Join(badSetters, " and ") + " must not set securityContext.runAsNonRoot=false"}
	}
	if len(implicit) > 0 {
		return &Violation{Reason: "runAsNonRoot != true", Detail: "pod or " + containerList(implicit) + " must set securityContext.runAsNonRoot=true"}
	}
	return nil
}

func runAsUser(_ *spec.ObjectMeta, ps *spec.PodSpec) *Violation {
	var badSetters []string
	if sc := ps.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		badSetters = append(badSetters, "pod")
	}
	var bad []string
	containers(ps, func(c *spec.Container) {
		if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			bad = append(bad, c.Name)
		}
	})
	if len(bad) > 0 {
		badSetters = append(badSetters, containerList(bad))
	}
	if len(badSetters) == 0 {
		return nil
	}
	return &Violation{Reason: "runAsUser=0", Detail: strings.Join(badSetters, " and ") + " must not set runAsUser=0"}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CheckAnnotations applies Stevedore's own namespace policy, in force where
// the Namespace has no enforce label: privileged containers and
// capabilities beyond the baseline set, and hostNetwork, need its
// stevedore.dev/allow-privileged annotation, hostPath volumes its
// stevedore.dev/allow-host-paths ("true"). The loader checks the same
// against the application's own declaration of the Namespace; at sync the
// Namespace in force (which another application may declare) decides.
func CheckAnnotations(ns *spec.Namespace, o spec.Object) []string {
	if o.GetTypeMeta().Kind == spec.KindPodTemplate {
		return nil
	}
	ps, _ := spec.PodSpecOf(o)
	if ps == nil {
		return nil
	}
	var ann map[string]string
	name := o.GetObjectMeta().Namespace
	if ns != nil {
		ann = ns.Annotations
	}
	var out []string
	if ps.HostNetwork && ann[spec.AllowPrivilegedAnnotation] != "true" {
		out = append(out, fmt.Sprintf("hostNetwork is not allowed in namespace %q: its Namespace is not annotated %s: \"true\" (nor labelled %s: privileged)", name, spec.AllowPrivilegedAnnotation, EnforceLabel))
	}
	if ann[spec.AllowHostPathsAnnotation] != "true" {
		for _, v := range ps.Volumes {
			if v.HostPath != nil {
				out = append(out, fmt.Sprintf("hostPath volume %q is not allowed in namespace %q: its Namespace is not annotated %s: \"true\" (nor labelled %s: privileged)", v.Name, name, spec.AllowHostPathsAnnotation, EnforceLabel))
			}
		}
	}
	if ann[spec.AllowPrivilegedAnnotation] != "true" {
		containers(ps, func(c *spec.Container) {
			sc := c.SecurityContext
			if sc == nil {
				return
			}
			if isTrue(sc.Privileged) {
				out = append(out, fmt.Sprintf("container %q is privileged, not allowed in namespace %q: its Namespace is not annotated %s: \"true\" (nor labelled %s: privileged)", c.Name, name, spec.AllowPrivilegedAnnotation, EnforceLabel))
			}
			if sc.Capabilities == nil {
				return
			}
			for _, a := range sc.Capabilities.Add {
				if n, _ := spec.CapabilityName(a); !slices.Contains(spec.BaselineCapabilities, n) {
					out = append(out, fmt.Sprintf("container %q adds %s, beyond Kubernetes' baseline, not allowed in namespace %q: its Namespace is not annotated %s: \"true\" (nor labelled %s: privileged)", c.Name, n, name, spec.AllowPrivilegedAnnotation, EnforceLabel))
				}
			}
		})
	}
	return out
}
