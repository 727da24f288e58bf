package spec

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// MaxWorkloadNameLength is the longest name a Deployment or
// ReplicationController may have: its pods are named
// "<name>-<10 hex>-<index>", and that must stay a DNS-1123 subdomain (253
// characters) for any int32 index (10 digits).
const MaxWorkloadNameLength = dns1123SubdomainMaxLength - 1 - 10 - 1 - 10

// fieldError is one validation problem, placed by its field path.
type fieldError struct {
	path fieldPath
	msg  string
}

type validator struct {
	errs []fieldError
	// claimTemplates are the names of a StatefulSet's
	// volumeClaimTemplates while its pod template is checked: a mount may
	// name one instead of a volume (the pod gets a volume of that name).
	claimTemplates map[string]bool
}

func (v *validator) add(p fieldPath, format string, args ...any) {
	v.errs = append(v.errs, fieldError{path: p, msg: fmt.Sprintf(format, args...)})
}

// check adds msg at p unless it is empty; the name checkers return "" for a
// good value.
func (v *validator) check(p fieldPath, value, msg string) {
	if msg != "" {
		v.add(p, "invalid value %q: %s", value, msg)
	}
}

// Validate checks one defaulted object on its own (not against the rest of
// the set) and returns what is wrong as errors with field paths but no file
// or line. Load places them in the file; callers building objects in code
// can use this directly.
func Validate(o Object) ErrorList {
	var out ErrorList
	for _, fe := range validateObject(o) {
		out = append(out, &Error{Object: keyLabel(KeyOf(o)), Field: string(fe.path), Message: fe.msg})
	}
	return out
}

func keyLabel(k ObjectKey) string {
	if k.Name == "" {
		return k.Kind
	}
	if k.Namespace != "" {
		return k.Kind + " " + k.Namespace + "/" + k.Name
	}
	return k.Kind + " " + k.Name
}

func validateObject(o Object) []fieldError {
	v := &validator{}
	kind := o.GetTypeMeta().Kind
	switch o := o.(type) {
	case *Namespace:
		v.objectMeta(&o.ObjectMeta, false, isDNS1123Label)
		// Kubernetes checks finalizer names as qualified names
		// ("kubernetes", "example.com/cleanup").
		for i, f := range o.Spec.Finalizers {
			v.check(fieldPath("spec.finalizers").index(i), f, isQualifiedName(f))
		}
	case *Node:
		v.objectMeta(&o.ObjectMeta, false, isDNS1123Subdomain)
		v.taints(o.Spec.Taints, "spec.taints")
	case *Pod:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.podSpec(&o.Spec, "spec")
	case *PodTemplate:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.templateMeta(&o.Template.ObjectMeta, "template.metadata")
		v.podSpec(&o.Template.Spec, "template.spec")
	case *ReplicationController:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.workloadName(o.Name)
		v.replicationControllerSpec(&o.Spec, "spec")
	case *Deployment:
		v.objectMeta(&o.ObjectMeta, true, isDNS1123Subdomain)
		v.workloadName(o.Name)
		v.deploymentSpec(&o.Spec, "spec")
	case *Service:
		v.objectMeta(&o.ObjectMeta, true, isDNS1035Label)
		v.serviceSpec(&o.Spec, "spec")
	case *Application:
		v.application(o)
	default:
		if !v.storageObject(o) && !v.workloadObject(o) && !v.quotaObject(o) && !v.rbacObject(o) {
			v.add("kind", "unsupported kind %q", kind)
		}
	}
	return v.errs
}

func (v *validator) objectMeta(m *ObjectMeta, namespaced bool, nameCheck func(string) string) {
	p := fieldPath("metadata")
	if m.Name == "" {
		v.add(p.child("name"), "required")
	} else {
		v.check(p.child("name"), m.Name, nameCheck(m.Name))
	}
	if namespaced {
		v.check(p.child("namespace"), m.Namespace, isDNS1123Label(m.Namespace))
	} else if m.Namespace != "" {
		v.add(p.child("namespace"), "must not be set: this kind is cluster-scoped")
	}
	v.labels(m.Labels, p.child("labels"))
	v.annotations(m.Annotations, p.child("annotations"))
}

// templateMeta checks a pod template's metadata: its labels matter (they
// are what selectors match); a name or namespace there is ignored, as in
// Kubernetes.
func (v *validator) templateMeta(m *ObjectMeta, p fieldPath) {
	v.labels(m.Labels, p.child("labels"))
	v.annotations(m.Annotations, p.child("annotations"))
}

func (v *validator) workloadName(name string) {
	if len(name) > MaxWorkloadNameLength {
		v.add("metadata.name", "must be no more than %d characters: pod names %q must stay valid DNS subdomains", MaxWorkloadNameLength, "<name>-<hash>-<index>")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) labels(l map[string]string, p fieldPath) {
	for _, k := range sortedKeys(l) {
		if msg := isQualifiedName(k); msg != "" {
			v.add(p.key(k), "invalid label key %q: %s", k, msg)
		}
		v.check(p.key(k), l[k], isLabelValue(l[k]))
	}
}

func (v *validator) annotations(a map[string]string, p fieldPath) {
	size := 0
	for _, k := range sortedKeys(a) {
		if msg := isQualifiedName(strings.ToLower(k)); msg != "" {
			v.add(p.key(k), "invalid annotation key %q: %s", k, msg)
		}
		size += len(k) + len(a[k])
	}
	if size > totalAnnotationSizeLimit {
		v.add(p, "too long: must have at most %d bytes", totalAnnotationSizeLimit)
	}
}

func (v *validator) nonNegative(p fieldPath, n int64) {
	if n < 0 {
		v.add(p, "invalid value %d: must be greater than or equal to 0", n)
	}
}

func (v *validator) replicationControllerSpec(s *ReplicationControllerSpec, p fieldPath) {
	if s.Replicas != nil {
		v.nonNegative(p.child("replicas"), int64(*s.Replicas))
	}
	if s.Template == nil {
		v.add(p.child("template"), "required")
		return
	}
	if len(s.Selector) == 0 {
		v.add(p.child("selector"), "required: set it or give the template labels")
	} else {
		v.labels(s.Selector, p.child("selector"))
		if !SelectorMatches(s.Selector, s.Template.Labels) {
			v.add(p.child("template.metadata.labels"), "selector does not match template labels")
		}
	}
	v.templateMeta(&s.Template.ObjectMeta, p.child("template.metadata"))
	v.podSpec(&s.Template.Spec, p.child("template.spec"))
	v.restartAlways(&s.Template.Spec, p.child("template.spec.restartPolicy"))
}

func (v *validator) restartAlways(s *PodSpec, p fieldPath) {
	if s.RestartPolicy != "" && s.RestartPolicy != RestartPolicyAlways {
		v.add(p, "unsupported value %q: supported values: %q (a workload's pods always restart)", s.RestartPolicy, RestartPolicyAlways)
	}
}

func (v *validator) deploymentSpec(s *DeploymentSpec, p fieldPath) {
	if s.Replicas != nil {
		v.nonNegative(p.child("replicas"), int64(*s.Replicas))
	}
	v.selectedTemplate(KindDeployment, s.Selector, &s.Template, p)
	v.restartAlways(&s.Template.Spec, p.child("template.spec.restartPolicy"))

	sp := p.child("strategy")
	switch s.Strategy.Type {
	case RollingUpdateDeploymentStrategyType:
		if ru := s.Strategy.RollingUpdate; ru != nil {
			rp := sp.child("rollingUpdate")
			v.intOrPercent(ru.MaxUnavailable, rp.child("maxUnavailable"), true)
			v.intOrPercent(ru.MaxSurge, rp.child("maxSurge"), false)
			if isZero(ru.MaxUnavailable) && isZero(ru.MaxSurge) {
				v.add(rp.child("maxUnavailable"), "may not be 0 when maxSurge is 0")
			}
		}
	case RecreateDeploymentStrategyType:
		if s.Strategy.RollingUpdate != nil {
			v.add(sp.child("rollingUpdate"), "may not be specified when strategy `type` is '%s' (Recreate stops every old pod before starting new ones: there is no surge or unavailability to bound)", RecreateDeploymentStrategyType)
		}
	default:
		v.add(sp.child("type"), "unsupported value %q: supported values: %q, %q", s.Strategy.Type, RecreateDeploymentStrategyType, RollingUpdateDeploymentStrategyType)
	}
	v.nonNegative(p.child("minReadySeconds"), int64(s.MinReadySeconds))
	if s.RevisionHistoryLimit != nil {
		v.nonNegative(p.child("revisionHistoryLimit"), int64(*s.RevisionHistoryLimit))
	}
	if d := s.ProgressDeadlineSeconds; d != nil {
		if *d <= s.MinReadySeconds {
			v.add(p.child("progressDeadlineSeconds"), "invalid value %d: must be greater than minReadySeconds", *d)
		}
	}
}

func isZero(x *IntOrString) bool {
	if x == nil {
		return true
	}
	n, err := x.Scaled(100, true)
	return err == nil && n == 0
}

func (v *validator) intOrPercent(x *IntOrString, p fieldPath, atMost100 bool) {
	if x == nil {
		return
	}
	if !x.IsString {
		v.nonNegative(p, int64(x.IntVal))
		return
	}
	s := x.StrVal
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if !strings.HasSuffix(s, "%") || err != nil || n < 0 {
		v.add(p, "invalid value %q: must be a non-negative integer or a percentage (e.g. '25%%')", s)
		return
	}
	if atMost100 && n > 100 {
		v.add(p, "invalid value %q: must not be greater than 100%%", s)
	}
}

func (v *validator) podSpec(s *PodSpec, p fieldPath) {
	cp := p.child("containers")
	if len(s.Containers) == 0 {
		v.add(cp, "required: a pod needs at least one container")
	}
	names := map[string]int{}
	type portKey struct {
		port  int32
		proto string
	}
	ports := map[portKey]fieldPath{}
	for i := range s.Containers {
		c := &s.Containers[i]
		ip := cp.index(i)
		if c.Name == "" {
			v.add(ip.child("name"), "required")
		} else if msg := isDNS1123Label(c.Name); msg != "" {
			v.check(ip.child("name"), c.Name, msg)
		} else if j, dup := names[c.Name]; dup {
			v.add(ip.child("name"), "duplicate value %q: containers[%d] has the same name", c.Name, j)
		} else {
			names[c.Name] = i
		}
		v.container(c, ip)
		v.containerHealth(c, ip, s)
		for j, port := range c.Ports {
			if port.ContainerPort < 1 || port.ContainerPort > 65535 {
				continue // reported by container
			}
			k := portKey{port.ContainerPort, port.Protocol}
			pp := ip.child("ports").index(j)
			if first, dup := ports[k]; dup {
				v.add(pp.child("containerPort"), "duplicate value %d/%s: %s already declares it (containers of a pod share one network namespace)", k.port, k.proto, first)
			} else {
				ports[k] = pp
			}
		}
	}
	switch s.RestartPolicy {
	case RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever:
	default:
		v.add(p.child("restartPolicy"), "unsupported value %q: supported values: %q, %q, %q", s.RestartPolicy, RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever)
	}
	if g := s.TerminationGracePeriodSeconds; g != nil {
		v.nonNegative(p.child("terminationGracePeriodSeconds"), *g)
	}
	if s.Hostname != "" {
		v.check(p.child("hostname"), s.Hostname, isDNS1123Label(s.Hostname))
	}
	v.podDNS(s, p)
	v.hostNetwork(s, p) // hostnetwork.go
	if s.NodeName != "" {
		v.check(p.child("nodeName"), s.NodeName, isDNS1123Subdomain(s.NodeName))
	}
	v.labels(s.NodeSelector, p.child("nodeSelector"))
	if s.SchedulerName != "" {
		v.check(p.child("schedulerName"), s.SchedulerName, isDNS1123Subdomain(s.SchedulerName))
	}
	if a := s.Affinity; a != nil {
		v.affinity(a, p.child("affinity"))
	}
	for i := range s.Tolerations {
		v.toleration(&s.Tolerations[i], p.child("tolerations").index(i))
	}
	v.topologySpread(s.TopologySpreadConstraints, p.child("topologySpreadConstraints"))
	v.podStorage(s, p)
}

func (v *validator) container(c *Container, p fieldPath) {
	if strings.TrimSpace(c.Image) == "" {
		v.add(p.child("image"), "required")
	} else if strings.TrimSpace(c.Image) != c.Image {
		v.add(p.child("image"), "invalid value %q: must not have leading or trailing whitespace", c.Image)
	} else if msg := imageRefError(c.Image); msg != "" {
		v.add(p.child("image"), "%s", msg)
	}
	switch c.ImagePullPolicy {
	case PullAlways, PullIfNotPresent, PullNever:
	default:
		v.add(p.child("imagePullPolicy"), "unsupported value %q: supported values: %q, %q, %q", c.ImagePullPolicy, PullAlways, PullIfNotPresent, PullNever)
	}
	for i, e := range c.Env {
		ep := p.child("env").index(i).child("name")
		if e.Name == "" {
			v.add(ep, "required")
		} else {
			v.check(ep, e.Name, isEnvVarName(e.Name))
		}
	}
	portNames := map[string]bool{}
	for i := range c.Ports {
		v.port(&c.Ports[i], p.child("ports").index(i), portNames)
	}
	v.resources(&c.Resources, p.child("resources"))
}

func (v *validator) port(port *ContainerPort, p fieldPath, names map[string]bool) {
	if port.Name != "" {
		if msg := isIANASvcName(port.Name); msg != "" {
			v.check(p.child("name"), port.Name, msg)
		} else if names[port.Name] {
			v.add(p.child("name"), "duplicate value %q", port.Name)
		}
		names[port.Name] = true
	}
	if port.ContainerPort < 1 || port.ContainerPort > 65535 {
		v.add(p.child("containerPort"), "invalid value %d: must be between 1 and 65535, inclusive", port.ContainerPort)
	}
	if port.HostPort < 0 || port.HostPort > 65535 {
		v.add(p.child("hostPort"), "invalid value %d: must be between 1 and 65535, inclusive (or 0 for none)", port.HostPort)
	}
	switch port.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
	default:
		v.add(p.child("protocol"), "unsupported value %q: supported values: %q, %q, %q", port.Protocol, ProtocolTCP, ProtocolUDP, ProtocolSCTP)
	}
	if port.HostIP != "" && net.ParseIP(port.HostIP) == nil {
		v.add(p.child("hostIP"), "invalid value %q: must be a valid IP address", port.HostIP)
	}
}

func (v *validator) labelSelector(s *LabelSelector, p fieldPath) {
	if s == nil {
		return
	}
	v.labels(s.MatchLabels, p.child("matchLabels"))
	for i, r := range s.MatchExpressions {
		rp := p.child("matchExpressions").index(i)
		if msg := isQualifiedName(r.Key); msg != "" {
			v.add(rp.child("key"), "invalid label key %q: %s", r.Key, msg)
		}
		switch r.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(r.Values) == 0 {
				v.add(rp.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				v.add(rp.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
			}
		default:
			v.add(rp.child("operator"), "unsupported value %q: supported values: %q, %q, %q, %q", r.Operator, LabelSelectorOpIn, LabelSelectorOpNotIn, LabelSelectorOpExists, LabelSelectorOpDoesNotExist)
		}
		for j, val := range r.Values {
			v.check(rp.child("values").index(j), val, isLabelValue(val))
		}
	}
}

func (v *validator) affinity(a *Affinity, p fieldPath) {
	if na := a.NodeAffinity; na != nil {
		np := p.child("nodeAffinity")
		if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			rp := np.child("requiredDuringSchedulingIgnoredDuringExecution")
			if len(req.NodeSelectorTerms) == 0 {
				v.add(rp.child("nodeSelectorTerms"), "required: must have at least one node selector term")
			}
			for i := range req.NodeSelectorTerms {
				v.nodeSelectorTerm(&req.NodeSelectorTerms[i], rp.child("nodeSelectorTerms").index(i))
			}
		}
		for i, pt := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			pp := np.child("preferredDuringSchedulingIgnoredDuringExecution").index(i)
			v.weight(pt.Weight, pp.child("weight"))
			v.nodeSelectorTerm(&pt.Preference, pp.child("preference"))
		}
	}
	for _, pa := range []struct {
		name     string
		required []PodAffinityTerm
		weighted []WeightedPodAffinityTerm
	}{
		{"podAffinity", podAffinityRequired(a.PodAffinity), podAffinityPreferred(a.PodAffinity)},
		{"podAntiAffinity", podAntiAffinityRequired(a.PodAntiAffinity), podAntiAffinityPreferred(a.PodAntiAffinity)},
	} {
		pp := p.child(pa.name)
		for i := range pa.required {
			v.podAffinityTerm(&pa.required[i], pp.child("requiredDuringSchedulingIgnoredDuringExecution").index(i))
		}
		for i := range pa.weighted {
			wp := pp.child("preferredDuringSchedulingIgnoredDuringExecution").index(i)
			v.weight(pa.weighted[i].Weight, wp.child("weight"))
			v.podAffinityTerm(&pa.weighted[i].PodAffinityTerm, wp.child("podAffinityTerm"))
		}
	}
}

func podAffinityRequired(a *PodAffinity) []PodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.RequiredDuringSchedulingIgnoredDuringExecution
}

func podAffinityPreferred(a *PodAffinity) []WeightedPodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.PreferredDuringSchedulingIgnoredDuringExecution
}

func podAntiAffinityRequired(a *PodAntiAffinity) []PodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.RequiredDuringSchedulingIgnoredDuringExecution
}

func podAntiAffinityPreferred(a *PodAntiAffinity) []WeightedPodAffinityTerm {
	if a == nil {
		return nil
	}
	return a.PreferredDuringSchedulingIgnoredDuringExecution
}

func (v *validator) weight(w int32, p fieldPath) {
	if w < 1 || w > 100 {
		v.add(p, "invalid value %d: must be in the range 1-100", w)
	}
}

func (v *validator) nodeSelectorTerm(t *NodeSelectorTerm, p fieldPath) {
	for i, r := range t.MatchExpressions {
		rp := p.child("matchExpressions").index(i)
		if msg := isQualifiedName(r.Key); msg != "" {
			v.add(rp.child("key"), "invalid label key %q: %s", r.Key, msg)
		}
		switch r.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(r.Values) == 0 {
				v.add(rp.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")
			}
			// Kubernetes (1.31 on) checks these as label values: a node
			// label can hold nothing else, so any other value is a typo.
			for j, val := range r.Values {
				v.check(rp.child("values").index(j), val, isLabelValue(val))
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				v.add(rp.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
			}
		case NodeSelectorOpGt, NodeSelectorOpLt:
			if len(r.Values) != 1 {
				v.add(rp.child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'")
			} else if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
				v.add(rp.child("values").index(0), "invalid value %q: must be an integer when `operator` is 'Lt' or 'Gt'", r.Values[0])
			}
		default:
			v.add(rp.child("operator"), "unsupported value %q: supported values: %q, %q, %q, %q, %q, %q", r.Operator,
				LabelSelectorOpIn, LabelSelectorOpNotIn, LabelSelectorOpExists, LabelSelectorOpDoesNotExist, NodeSelectorOpGt, NodeSelectorOpLt)
		}
	}
	for i, r := range t.MatchFields {
		rp := p.child("matchFields").index(i)
		if r.Key != "metadata.name" {
			v.add(rp.child("key"), "unsupported value %q: supported values: \"metadata.name\"", r.Key)
		}
		if r.Operator != LabelSelectorOpIn && r.Operator != LabelSelectorOpNotIn {
			v.add(rp.child("operator"), "unsupported value %q: supported values: %q, %q", r.Operator, LabelSelectorOpIn, LabelSelectorOpNotIn)
		}
		if len(r.Values) != 1 {
			v.add(rp.child("values"), "must have exactly one value")
		}
	}
}

func (v *validator) podAffinityTerm(t *PodAffinityTerm, p fieldPath) {
	v.labelSelector(t.LabelSelector, p.child("labelSelector"))
	for i, ns := range t.Namespaces {
		v.check(p.child("namespaces").index(i), ns, isDNS1123Label(ns))
	}
	if t.TopologyKey == "" {
		v.add(p.child("topologyKey"), "required: can not be empty")
	} else if msg := isQualifiedName(t.TopologyKey); msg != "" {
		v.check(p.child("topologyKey"), t.TopologyKey, msg)
	}
}

func validEffect(e string) bool {
	return e == TaintEffectNoSchedule || e == TaintEffectPreferNoSchedule || e == TaintEffectNoExecute
}

func (v *validator) toleration(t *Toleration, p fieldPath) {
	if t.Key != "" {
		if msg := isQualifiedName(t.Key); msg != "" {
			v.check(p.child("key"), t.Key, msg)
		}
	}
	switch t.Operator {
	case TolerationOpEqual:
		if t.Key == "" {
			v.add(p.child("operator"), "invalid value %q: operator must be Exists when `key` is empty, which means \"match all values and all keys\"", t.Operator)
		}
		v.check(p.child("value"), t.Value, isLabelValue(t.Value))
	case TolerationOpExists:
		if t.Value != "" {
			v.add(p.child("value"), "invalid value %q: value must be empty when `operator` is 'Exists'", t.Value)
		}
	default:
		v.add(p.child("operator"), "unsupported value %q: supported values: %q, %q", t.Operator, TolerationOpEqual, TolerationOpExists)
	}
	if t.Effect != "" && !validEffect(t.Effect) {
		v.add(p.child("effect"), "unsupported value %q: supported values: %q, %q, %q", t.Effect, TaintEffectNoSchedule, TaintEffectPreferNoSchedule, TaintEffectNoExecute)
	}
	if t.TolerationSeconds != nil && t.Effect != TaintEffectNoExecute {
		v.add(p.child("effect"), "invalid value %q: effect must be 'NoExecute' when `tolerationSeconds` is set", t.Effect)
	}
}

func (v *validator) taints(ts []Taint, p fieldPath) {
	type key struct{ key, effect string }
	seen := map[key]int{}
	for i, t := range ts {
		tp := p.index(i)
		if t.Key == "" {
			v.add(tp.child("key"), "required")
		} else if msg := isQualifiedName(t.Key); msg != "" {
			v.check(tp.child("key"), t.Key, msg)
		}
		v.check(tp.child("value"), t.Value, isLabelValue(t.Value))
		if t.Effect == "" {
			v.add(tp.child("effect"), "required")
		} else if !validEffect(t.Effect) {
			v.add(tp.child("effect"), "unsupported value %q: supported values: %q, %q, %q", t.Effect, TaintEffectNoSchedule, TaintEffectPreferNoSchedule, TaintEffectNoExecute)
		}
		k := key{t.Key, t.Effect}
		if j, dup := seen[k]; dup {
			v.add(tp, "duplicate taint %s:%s: taints[%d] has the same key and effect", t.Key, t.Effect, j)
		} else {
			seen[k] = i
		}
	}
}

func (v *validator) topologySpread(cs []TopologySpreadConstraint, p fieldPath) {
	type key struct{ topologyKey, when string }
	seen := map[key]int{}
	for i, c := range cs {
		cp := p.index(i)
		if c.MaxSkew < 1 {
			v.add(cp.child("maxSkew"), "invalid value %d: must be greater than zero", c.MaxSkew)
		}
		if c.TopologyKey == "" {
			v.add(cp.child("topologyKey"), "required: can not be empty")
		} else if msg := isQualifiedName(c.TopologyKey); msg != "" {
			v.check(cp.child("topologyKey"), c.TopologyKey, msg)
		}
		switch c.WhenUnsatisfiable {
		case DoNotSchedule, ScheduleAnyway:
		default:
			v.add(cp.child("whenUnsatisfiable"), "unsupported value %q: supported values: %q, %q", c.WhenUnsatisfiable, DoNotSchedule, ScheduleAnyway)
		}
		if c.MinDomains != nil {
			if *c.MinDomains < 1 {
				v.add(cp.child("minDomains"), "invalid value %d: must be greater than zero", *c.MinDomains)
			} else if c.WhenUnsatisfiable != DoNotSchedule {
				v.add(cp.child("minDomains"), "can only be set when whenUnsatisfiable is %q", DoNotSchedule)
			}
		}
		v.labelSelector(c.LabelSelector, cp.child("labelSelector"))
		k := key{c.TopologyKey, c.WhenUnsatisfiable}
		if j, dup := seen[k]; dup {
			v.add(cp, "duplicate constraint {%s, %s}: topologySpreadConstraints[%d] has the same topologyKey and whenUnsatisfiable", c.TopologyKey, c.WhenUnsatisfiable, j)
		} else {
			seen[k] = i
		}
	}
}
