package spec

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// This file checks a pod's volumes, its containers' mounts and its init
// containers as Kubernetes' validateVolumes, validateVolumeMounts and
// validateInitContainers do, less the sources Stevedore does not
// implement (the decoder refuses those by name). What depends on other
// objects (a claim, a StorageClass, a Namespace's policy) is checked with
// the whole revision, in storage_rules.go.

// Limits on ConfigMap and Secret keys and sizes, as Kubernetes'.
const (
	// MaxConfigSize is the most a ConfigMap's or Secret's data may hold
	// in all, in bytes (1 MiB).
	MaxConfigSize      = 1 << 20
	maxConfigKeyLength = dns1123SubdomainMaxLength
	maxVolumeMode      = 0o777
)

var configKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// isConfigMapKey returns why s is not a ConfigMap or Secret key, or "".
func isConfigMapKey(s string) string {
	switch {
	case len(s) > maxConfigKeyLength:
		return fmt.Sprintf("must be no more than %d characters", maxConfigKeyLength)
	case !configKeyRE.MatchString(s):
		return "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name')"
	case s == ".":
		return "must not be '.'"
	case s == "..":
		return "must not be '..'"
	case strings.HasPrefix(s, ".."):
		return "must not start with '..'"
	}
	return ""
}

// podStorage checks what a pod spec holds beyond its app containers'
// basics: volumes, init containers, every container's mounts, environment
// sources and security context, the pod's security context and service
// account. podSpec calls it once the app containers are checked.
func (v *validator) podStorage(s *PodSpec, p fieldPath) {
	vols := v.volumes(s.Volumes, p.child("volumes"), s)
	v.initContainers(s, p.child("initContainers"))
	for i := range s.InitContainers {
		v.containerStorage(&s.InitContainers[i], p.child("initContainers").index(i), vols, s)
	}
	for i := range s.Containers {
		v.containerStorage(&s.Containers[i], p.child("containers").index(i), vols, s)
	}
	v.podSecurityContext(s.SecurityContext, p.child("securityContext"))
	if n := s.ServiceAccountName; n != "" {
		v.check(p.child("serviceAccountName"), n, isDNS1123Subdomain(n))
	}
}

// volumes checks each volume and returns them by name.
func (v *validator) volumes(vs []Volume, p fieldPath, s *PodSpec) map[string]*Volume {
	byName := map[string]*Volume{}
	for i := range vs {
		vol := &vs[i]
		ip := p.index(i)
		switch {
		case vol.Name == "":
			v.add(ip.child("name"), "required")
		case isDNS1123Label(vol.Name) != "":
			v.check(ip.child("name"), vol.Name, isDNS1123Label(vol.Name))
		case byName[vol.Name] != nil:
			v.add(ip.child("name"), "duplicate value %q: a pod's volume names are unique", vol.Name)
		default:
			byName[vol.Name] = vol
		}
		v.volumeSource(&vol.VolumeSource, ip, s)
	}
	return byName
}

func (v *validator) volumeSource(vs *VolumeSource, p fieldPath, s *PodSpec) {
	switch n := v.oneOf(p, "may not specify more than 1 volume type", "must specify a volume type: one of emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim or hostPath",
		handlerSet{"hostPath", vs.HostPath != nil}, handlerSet{"emptyDir", vs.EmptyDir != nil},
		handlerSet{"secret", vs.Secret != nil}, handlerSet{"persistentVolumeClaim", vs.PersistentVolumeClaim != nil},
		handlerSet{"downwardAPI", vs.DownwardAPI != nil}, handlerSet{"configMap", vs.ConfigMap != nil},
		handlerSet{"projected", vs.Projected != nil}); n {
	case "hostPath":
		v.hostPath(vs.HostPath, p.child(n))
	case "emptyDir":
		ep := p.child(n)
		switch vs.EmptyDir.Medium {
		case StorageMediumDefault, StorageMediumMemory:
		default:
			v.add(ep.child("medium"), "unsupported value %q: supported values: \"\" (the node's disk), %q (a tmpfs); hugepages are not supported by Stevedore", vs.EmptyDir.Medium, StorageMediumMemory)
		}
		if l := vs.EmptyDir.SizeLimit; l != nil && l.Sign() <= 0 {
			v.add(ep.child("sizeLimit"), "invalid value %q: must be greater than zero", l.String())
		}
	case "secret":
		sp := p.child(n)
		if vs.Secret.SecretName == "" {
			v.add(sp.child("secretName"), "required")
		} else {
			v.check(sp.child("secretName"), vs.Secret.SecretName, isDNS1123Subdomain(vs.Secret.SecretName))
		}
		v.mode(vs.Secret.DefaultMode, sp.child("defaultMode"))
		v.keyToPaths(vs.Secret.Items, sp.child("items"), nil)
	case "configMap":
		cp := p.child(n)
		if vs.ConfigMap.Name == "" {
			v.add(cp.child("name"), "required")
		} else {
			v.check(cp.child("name"), vs.ConfigMap.Name, isDNS1123Subdomain(vs.ConfigMap.Name))
		}
		v.mode(vs.ConfigMap.DefaultMode, cp.child("defaultMode"))
		v.keyToPaths(vs.ConfigMap.Items, cp.child("items"), nil)
	case "persistentVolumeClaim":
		cp := p.child(n).child("claimName")
		if c := vs.PersistentVolumeClaim.ClaimName; c == "" {
			v.add(cp, "required")
		} else {
			v.check(cp, c, isDNS1123Subdomain(c))
		}
	case "downwardAPI":
		dp := p.child(n)
		v.mode(vs.DownwardAPI.DefaultMode, dp.child("defaultMode"))
		v.downwardAPIFiles(vs.DownwardAPI.Items, dp.child("items"), s, nil)
	case "projected":
		v.projected(vs.Projected, p.child(n), s)
	}
}

// oneOf checks that exactly one of hs is set and returns its name ("" when
// none is); a second one is reported at its own path.
func (v *validator) oneOf(p fieldPath, more, none string, hs ...handlerSet) string {
	first := ""
	for _, h := range hs {
		switch {
		case !h.set:
		case first == "":
			first = h.name
		default:
			v.add(p.child(h.name), "%s (%s is set)", more, first)
		}
	}
	if first == "" && none != "" {
		v.add(p, "%s", none)
	}
	return first
}

var hostPathTypes = []string{HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate,
	HostPathFile, HostPathSocket, HostPathCharDev, HostPathBlockDev}

func (v *validator) hostPath(h *HostPathVolumeSource, p fieldPath) {
	v.absolutePath(h.Path, p.child("path"))
	if h.Type != nil && *h.Type != HostPathUnset && !containsString(hostPathTypes, *h.Type) {
		v.add(p.child("type"), "unsupported value %q: supported values: \"\", %s", *h.Type, quoteAll(hostPathTypes))
	}
}

// absolutePath checks a path of the node or the container: required,
// absolute, without ".." elements.
func (v *validator) absolutePath(s string, p fieldPath) {
	switch {
	case s == "":
		v.add(p, "required")
	case !path.IsAbs(s):
		v.add(p, "invalid value %q: must be an absolute path", s)
	case hasBackstep(s):
		v.add(p, "invalid value %q: must not contain '..'", s)
	}
}

// relativePath checks a path inside a volume (validateLocalDescendingPath):
// relative, without ".." elements.
func (v *validator) relativePath(s string, p fieldPath) bool {
	switch {
	case path.IsAbs(s):
		v.add(p, "invalid value %q: must be a relative path", s)
	case hasBackstep(s):
		v.add(p, "invalid value %q: must not contain '..'", s)
	default:
		return true
	}
	return false
}

// filePath checks the path of a projected file (validateLocalNonReservedPath):
// required, relative, no "..", not starting with ".." (the kubelet's
// ..data and ..<timestamp> entries live there).
func (v *validator) filePath(s string, p fieldPath) {
	switch {
	case s == "":
		v.add(p, "required")
	case !v.relativePath(s, p):
	case strings.HasPrefix(s, ".."):
		v.add(p, "invalid value %q: must not start with '..'", s)
	}
}

func (v *validator) mode(m *int32, p fieldPath) {
	if m != nil && (*m < 0 || *m > maxVolumeMode) {
		v.add(p, "invalid value %d: must be a number between 0 and 0777 (octal), both inclusive", *m)
	}
}

// keyToPaths checks a configMap's or secret's items; paths, when not nil,
// collects the files' paths of a projected volume to find two writing one.
func (v *validator) keyToPaths(items []KeyToPath, p fieldPath, paths map[string]fieldPath) {
	for i, it := range items {
		ip := p.index(i)
		if it.Key == "" {
			v.add(ip.child("key"), "required")
		} else {
			v.check(ip.child("key"), it.Key, isConfigMapKey(it.Key))
		}
		v.filePath(it.Path, ip.child("path"))
		v.mode(it.Mode, ip.child("mode"))
		v.projectedPath(it.Path, ip.child("path"), paths)
	}
}

func (v *validator) projectedPath(s string, p fieldPath, paths map[string]fieldPath) {
	if paths == nil || s == "" {
		return
	}
	c := path.Clean(s)
	if first, dup := paths[c]; dup {
		v.add(p, "conflicting duplicate paths: %q is also written by %s", s, first)
		return
	}
	paths[c] = p
}

// volumeFieldPaths are the fields of the pod a downwardAPI volume may
// project: the ones that are fixed for the pod's life or that the kubelet
// updates in the file (labels, annotations).
var volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid"}

func (v *validator) downwardAPIFiles(items []DownwardAPIVolumeFile, p fieldPath, s *PodSpec, paths map[string]fieldPath) {
	for i := range items {
		it := &items[i]
		ip := p.index(i)
		v.filePath(it.Path, ip.child("path"))
		v.mode(it.Mode, ip.child("mode"))
		v.projectedPath(it.Path, ip.child("path"), paths)
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			v.add(ip, "fieldRef and resourceFieldRef can not be specified simultaneously")
		case it.FieldRef != nil:
			v.fieldRef(it.FieldRef, ip.child("fieldRef"), volumeFieldPaths, false)
		case it.ResourceFieldRef != nil:
			v.resourceFieldRef(it.ResourceFieldRef, ip.child("resourceFieldRef"), s, true)
		default:
			v.add(ip, "must specify one of: `fieldRef` or `resourceFieldRef`")
		}
	}
}

func (v *validator) projected(pv *ProjectedVolumeSource, p fieldPath, s *PodSpec) {
	v.mode(pv.DefaultMode, p.child("defaultMode"))
	paths := map[string]fieldPath{}
	for i := range pv.Sources {
		src := &pv.Sources[i]
		sp := p.child("sources").index(i)
		switch n := v.oneOf(sp, "may not specify more than 1 volume type per source", "must specify one of: secret, configMap or downwardAPI",
			handlerSet{"secret", src.Secret != nil}, handlerSet{"downwardAPI", src.DownwardAPI != nil},
			handlerSet{"configMap", src.ConfigMap != nil}); n {
		case "secret":
			v.projectedName(src.Secret.Name, sp.child(n).child("name"))
			v.keyToPaths(src.Secret.Items, sp.child(n).child("items"), paths)
		case "configMap":
			v.projectedName(src.ConfigMap.Name, sp.child(n).child("name"))
			v.keyToPaths(src.ConfigMap.Items, sp.child(n).child("items"), paths)
		case "downwardAPI":
			v.downwardAPIFiles(src.DownwardAPI.Items, sp.child(n).child("items"), s, paths)
		}
	}
}

func (v *validator) projectedName(name string, p fieldPath) {
	if name == "" {
		v.add(p, "required")
		return
	}
	v.check(p, name, isDNS1123Subdomain(name))
}

// initContainers checks the init containers as app containers are
// checked, with Kubernetes' rules for them: names unique across init and
// app containers; no probes and no lifecycle hooks (a container that runs
// to completion is never ready, and sidecars, restartPolicy Always, are not
// supported by Stevedore).
func (v *validator) initContainers(s *PodSpec, p fieldPath) {
	appNames := map[string]int{}
	for i, c := range s.Containers {
		appNames[c.Name] = i
	}
	names := map[string]int{}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		ip := p.index(i)
		switch {
		case c.Name == "":
			v.add(ip.child("name"), "required")
		case isDNS1123Label(c.Name) != "":
			v.check(ip.child("name"), c.Name, isDNS1123Label(c.Name))
		default:
			if j, dup := names[c.Name]; dup {
				v.add(ip.child("name"), "duplicate value %q: initContainers[%d] has the same name", c.Name, j)
			} else if j, dup := appNames[c.Name]; dup {
				v.add(ip.child("name"), "duplicate value %q: containers[%d] has the same name (init and app containers' names are unique together)", c.Name, j)
			}
			names[c.Name] = i
		}
		v.container(c, ip)
		v.terminationMessage(c, ip)
		for _, pr := range []struct {
			name string
			set  bool
		}{{"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil}, {"lifecycle", c.Lifecycle != nil}} {
			if pr.set {
				v.add(ip.child(pr.name), "forbidden: may not be set for init containers (they run to completion; sidecar init containers, restartPolicy Always, are not supported by Stevedore)")
			}
		}
	}
}

// containerStorage checks a container's mounts, environment sources and
// security context; vols are the pod's volumes by name.
func (v *validator) containerStorage(c *Container, p fieldPath, vols map[string]*Volume, s *PodSpec) {
	mp := p.child("volumeMounts")
	paths := map[string]int{}
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		ip := mp.index(i)
		switch {
		case m.Name == "":
			v.add(ip.child("name"), "required")
		case vols[m.Name] == nil && !v.claimTemplates[m.Name]:
			v.add(ip.child("name"), "not found: no volume named %q in spec.volumes%s", m.Name, v.claimTemplatesHint())
		}
		v.absolutePath(m.MountPath, ip.child("mountPath"))
		if m.MountPath != "" {
			c := path.Clean(m.MountPath)
			if j, dup := paths[c]; dup {
				v.add(ip.child("mountPath"), "invalid value %q: must be unique: volumeMounts[%d] mounts at the same path", m.MountPath, j)
			} else {
				paths[c] = i
			}
		}
		if m.SubPath != "" && m.SubPathExpr != "" {
			v.add(ip.child("subPathExpr"), "subPathExpr and subPath are mutually exclusive")
		}
		if m.SubPath != "" {
			v.relativePath(m.SubPath, ip.child("subPath"))
		}
		if m.SubPathExpr != "" {
			v.relativePath(m.SubPathExpr, ip.child("subPathExpr"))
		}
	}
	v.envSources(c, p, s)
	v.securityContext(c.SecurityContext, p.child("securityContext"))
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quoteAll renders list as "a", "b", "c".
func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
