package spec

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// This file checks a container's health and lifecycle fields (probes,
// postStart/preStop hooks, the termination message) as Kubernetes'
// validateProbe, validateLifecycle and validateContainerCommon do, plus
// what Kubernetes leaves to fail at run time: a named port the container
// does not declare.

// maxTerminationMessagePathLength bounds terminationMessagePath, in bytes
// (PATH_MAX on Linux).
const maxTerminationMessagePathLength = 4096

// httpHeaderNameRE is Kubernetes' IsHTTPHeaderName.
var httpHeaderNameRE = regexp.MustCompile(`^[-A-Za-z0-9]+$`)

// zeroRefused are integer fields, by Go type name, where leaving the field
// out means the default but writing 0 is refused with the message given.
// The Go value cannot tell the two apart, so the decoder checks these when
// it reads the field (walker.decodeStruct); Validate, given an object built
// in code, sees only the default.
var zeroRefused = map[string]map[string]string{
	// Kubernetes defaults an explicit 0 to 10 seconds too; a period of 0
	// reads as "continuously" or "never", neither of which it is, so it is
	// refused rather than silently taken as 10.
	"Probe": {"periodSeconds": fmt.Sprintf("invalid value 0: must be at least 1 (leave periodSeconds out for the default, %d)", DefaultProbePeriodSeconds)},
}

// probeKind tells the three probes apart where their rules differ.
type probeKind int

const (
	livenessProbe probeKind = iota
	readinessProbe
	startupProbe
)

// containerHealth checks c's probes, hooks and termination message; s is
// the pod, whose grace period bounds a sleep hook and whose other
// containers a missing port name may be found in.
func (v *validator) containerHealth(c *Container, p fieldPath, s *PodSpec) {
	v.probe(c.LivenessProbe, p.child("livenessProbe"), livenessProbe, c, s)
	v.probe(c.ReadinessProbe, p.child("readinessProbe"), readinessProbe, c, s)
	v.probe(c.StartupProbe, p.child("startupProbe"), startupProbe, c, s)
	if l := c.Lifecycle; l != nil {
		lp := p.child("lifecycle")
		v.lifecycleHandler(l.PostStart, lp.child("postStart"), c, s)
		v.lifecycleHandler(l.PreStop, lp.child("preStop"), c, s)
	}
	v.terminationMessage(c, p)
}

func (v *validator) probe(pr *Probe, p fieldPath, kind probeKind, c *Container, s *PodSpec) {
	if pr == nil {
		return
	}
	h := &pr.ProbeHandler
	switch n := v.handlers(p, "exec, httpGet, tcpSocket or grpc",
		handlerSet{"exec", h.Exec != nil}, handlerSet{"httpGet", h.HTTPGet != nil},
		handlerSet{"tcpSocket", h.TCPSocket != nil}, handlerSet{"grpc", h.GRPC != nil}); n {
	case "exec":
		v.execAction(h.Exec, p.child(n))
	case "httpGet":
		v.httpGetAction(h.HTTPGet, p.child(n), c, s)
	case "tcpSocket":
		v.namedPort(h.TCPSocket.Port, p.child(n).child("port"), c, s)
	case "grpc":
		if port := h.GRPC.Port; port < 1 || port > 65535 {
			v.add(p.child(n).child("port"), "invalid value %d: must be between 1 and 65535, inclusive", port)
		}
	}
	v.nonNegative(p.child("initialDelaySeconds"), int64(pr.InitialDelaySeconds))
	v.probeCount(pr.TimeoutSeconds, p.child("timeoutSeconds"), DefaultProbeTimeoutSeconds)
	v.probeCount(pr.PeriodSeconds, p.child("periodSeconds"), DefaultProbePeriodSeconds)
	v.probeCount(pr.SuccessThreshold, p.child("successThreshold"), DefaultProbeSuccessThreshold)
	v.probeCount(pr.FailureThreshold, p.child("failureThreshold"), DefaultProbeFailureThreshold)
	if kind != readinessProbe && pr.SuccessThreshold > 1 {
		v.add(p.child("successThreshold"), "invalid value %d: must be 1 for a liveness or startup probe (one success ends a failure streak)", pr.SuccessThreshold)
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil {
		gp := p.child("terminationGracePeriodSeconds")
		switch {
		case kind == readinessProbe:
			v.add(gp, "must not be set for readinessProbes: a failing readiness probe never kills the container")
		case *g <= 0:
			v.add(gp, "invalid value %d: must be greater than 0", *g)
		}
	}
}

// probeCount checks a probe's timing or threshold: 0 means the default
// (an explicit periodSeconds: 0 is refused by the decoder, see
// zeroRefused), a negative value is refused.
func (v *validator) probeCount(n int32, p fieldPath, def int) {
	if n < 0 {
		v.add(p, "invalid value %d: must be at least 1 (0 or unset means the default, %d)", n, def)
	}
}

func (v *validator) lifecycleHandler(h *LifecycleHandler, p fieldPath, c *Container, s *PodSpec) {
	if h == nil {
		return
	}
	switch n := v.handlers(p, "exec, httpGet or sleep",
		handlerSet{"exec", h.Exec != nil}, handlerSet{"httpGet", h.HTTPGet != nil},
		handlerSet{"sleep", h.Sleep != nil}); n {
	case "exec":
		v.execAction(h.Exec, p.child(n))
	case "httpGet":
		v.httpGetAction(h.HTTPGet, p.child(n), c, s)
	case "sleep":
		sp := p.child(n).child("seconds")
		secs := h.Sleep.Seconds
		g := s.TerminationGracePeriodSeconds
		switch {
		case secs < 0:
			v.add(sp, "invalid value %d: must be greater than or equal to 0", secs)
		case g != nil && *g >= 0 && secs > *g:
			// As Kubernetes: the pod is killed when its grace period
			// ends, hook or not, so a longer sleep is a mistake.
			v.add(sp, "invalid value %d: must not be greater than the pod's terminationGracePeriodSeconds (%d)", secs, *g)
		}
	}
}

// handlerSet is one handler field of a probe or hook and whether it is set.
type handlerSet struct {
	name string
	set  bool
}

// handlers checks that exactly one of hs is set, as Kubernetes'
// validateHandler, and returns its name ("" when none is). A second one is
// reported at its own path.
func (v *validator) handlers(p fieldPath, names string, hs ...handlerSet) string {
	first := ""
	for _, h := range hs {
		switch {
		case !h.set:
		case first == "":
			first = h.name
		default:
			v.add(p.child(h.name), "may not specify more than 1 handler type (%s is set)", first)
		}
	}
	if first == "" {
		v.add(p, "must specify a handler type: one of %s", names)
	}
	return first
}

func (v *validator) execAction(e *ExecAction, p fieldPath) {
	if len(e.Command) == 0 {
		v.add(p.child("command"), `required: the command to run, at least one element (for a shell, ["sh", "-c", "..."])`)
	}
}

func (v *validator) httpGetAction(h *HTTPGetAction, p fieldPath, c *Container, s *PodSpec) {
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.add(p.child("path"), "invalid value %q: must start with \"/\"", h.Path)
	}
	v.namedPort(h.Port, p.child("port"), c, s)
	switch h.Scheme {
	case "", URISchemeHTTP, URISchemeHTTPS:
	default:
		v.add(p.child("scheme"), "unsupported value %q: supported values: %q, %q", h.Scheme, URISchemeHTTP, URISchemeHTTPS)
	}
	for i, hd := range h.HTTPHeaders {
		np := p.child("httpHeaders").index(i).child("name")
		switch {
		case hd.Name == "":
			v.add(np, "required")
		case !httpHeaderNameRE.MatchString(hd.Name):
			v.add(np, "invalid value %q: a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name')", hd.Name)
		}
	}
}

// namedPort checks the port of an httpGet or tcpSocket action: a number
// from 1 to 65535, or the name of one of the container's own ports. As the
// kubelet (probe.ResolveContainerPort, the hook runner's resolvePort), the
// agent looks a name up among the ports of the container the probe or hook
// belongs to, not its pod's other containers, so a name only a sibling
// declares would fail every time it runs: it is refused here.
func (v *validator) namedPort(port IntOrString, p fieldPath, c *Container, s *PodSpec) {
	if !port.IsString {
		if port.IntVal < 1 || port.IntVal > 65535 {
			v.add(p, "invalid value %d: must be between 1 and 65535, inclusive", port.IntVal)
		}
		return
	}
	name := port.StrVal
	if msg := isIANASvcName(name); msg != "" {
		if isDigits(name) {
			msg = "a port number must not be quoted (a string is a port name, which " + msg + ")"
		}
		v.check(p, name, msg)
		return
	}
	for _, cp := range c.Ports {
		if cp.Name == name {
			return
		}
	}
	v.add(p, "port name %q is not declared by container %q%s", name, c.Name, portNameHint(name, c, s))
}

// portNameHint says where else name is declared, or which names the
// container does declare.
func portNameHint(name string, c *Container, s *PodSpec) string {
	for i := range s.Containers {
		o := &s.Containers[i]
		if o == c {
			continue
		}
		for _, cp := range o.Ports {
			if cp.Name == name {
				return fmt.Sprintf(" (container %q declares it, but a name is looked up in the probe's or hook's own container, as in Kubernetes: use the number, %d)", o.Name, cp.ContainerPort)
			}
		}
	}
	var names []string
	for _, cp := range c.Ports {
		if cp.Name != "" {
			names = append(names, fmt.Sprintf("%q", cp.Name))
		}
	}
	if len(names) == 0 {
		return ": it names none of its ports (add a name to one of its ports[] or use a number)"
	}
	return ": its ports are named " + strings.Join(names, ", ")
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// terminationMessage checks terminationMessagePolicy and
// terminationMessagePath (as defaulted: their defaults are stored empty).
func (v *validator) terminationMessage(c *Container, p fieldPath) {
	switch c.TerminationMessagePolicy {
	case "", TerminationMessageReadFile, TerminationMessageFallbackToLogsOnError:
	default:
		v.add(p.child("terminationMessagePolicy"), "unsupported value %q: supported values: %q, %q", c.TerminationMessagePolicy, TerminationMessageReadFile, TerminationMessageFallbackToLogsOnError)
	}
	mp := c.TerminationMessagePath
	if mp == "" {
		return
	}
	pp := p.child("terminationMessagePath")
	switch {
	case len(mp) > maxTerminationMessagePathLength:
		v.add(pp, "too long: must have at most %d bytes", maxTerminationMessagePathLength)
	case !path.IsAbs(mp):
		v.add(pp, "invalid value %q: must be an absolute path", mp)
	case hasBackstep(mp):
		v.add(pp, "invalid value %q: must not contain '..'", mp)
	case path.Clean(mp) == "/":
		v.add(pp, "invalid value %q: must name a file, not the root directory", mp)
	}
}

// hasBackstep reports whether p has a ".." element.
func hasBackstep(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}
