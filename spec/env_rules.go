package spec

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// This file checks where a container's environment comes from (env's
// valueFrom, envFrom) as Kubernetes' validateEnv and validateEnvFrom do,
// and the downward API's field and resource selectors, which downwardAPI
// volumes share.

// envFieldPaths are the pod fields an environment variable may take
// (Kubernetes' validEnvDownwardAPIFieldPathExpressions); labels and
// annotations only by key, as metadata.labels['<key>'].
var envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
	"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}

// resourceFieldPaths are the container resources a downward API selector
// may take.
var resourceFieldPaths = []string{"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage"}

func (v *validator) envSources(c *Container, p fieldPath, s *PodSpec) {
	for i := range c.Env {
		e := &c.Env[i]
		vf := e.ValueFrom
		if vf == nil {
			continue
		}
		ep := p.child("env").index(i)
		fp := ep.child("valueFrom")
		if e.Value != "" {
			v.add(fp, "invalid: may not be specified when `value` is not empty")
		}
		switch n := v.oneOf(fp, "may not have more than one field specified at a time", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
			handlerSet{"fieldRef", vf.FieldRef != nil}, handlerSet{"resourceFieldRef", vf.ResourceFieldRef != nil},
			handlerSet{"configMapKeyRef", vf.ConfigMapKeyRef != nil}, handlerSet{"secretKeyRef", vf.SecretKeyRef != nil}); n {
		case "fieldRef":
			v.fieldRef(vf.FieldRef, fp.child(n), envFieldPaths, true)
		case "resourceFieldRef":
			v.resourceFieldRef(vf.ResourceFieldRef, fp.child(n), s, false)
		case "configMapKeyRef":
			v.keySelector(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, fp.child(n))
		case "secretKeyRef":
			v.keySelector(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, fp.child(n))
		}
	}
	for i := range c.EnvFrom {
		ef := &c.EnvFrom[i]
		ip := p.child("envFrom").index(i)
		if ef.Prefix != "" {
			v.check(ip.child("prefix"), ef.Prefix, isEnvVarName(ef.Prefix))
		}
		switch n := v.oneOf(ip, "may not have more than one field specified at a time", "must specify one of: `configMapRef` or `secretRef`",
			handlerSet{"configMapRef", ef.ConfigMapRef != nil}, handlerSet{"secretRef", ef.SecretRef != nil}); n {
		case "configMapRef":
			v.projectedName(ef.ConfigMapRef.Name, ip.child(n).child("name"))
		case "secretRef":
			v.projectedName(ef.SecretRef.Name, ip.child(n).child("name"))
		}
	}
}

func (v *validator) keySelector(name, key string, p fieldPath) {
	v.projectedName(name, p.child("name"))
	if key == "" {
		v.add(p.child("key"), "required")
	} else {
		v.check(p.child("key"), key, isConfigMapKey(key))
	}
}

// fieldRef checks a downward API field selector against the paths
// allowed; subscripts says metadata.labels['k'] and
// metadata.annotations['k'] are allowed (in env).
func (v *validator) fieldRef(f *ObjectFieldSelector, p fieldPath, allowed []string, subscripts bool) {
	if f.APIVersion != "" && f.APIVersion != CoreV1 {
		v.add(p.child("apiVersion"), "unsupported value %q: supported values: %q", f.APIVersion, CoreV1)
	}
	fp := p.child("fieldPath")
	if f.FieldPath == "" {
		v.add(fp, "required")
		return
	}
	if containsString(allowed, f.FieldPath) {
		return
	}
	if subscripts {
		if base, key, ok := fieldPathSubscript(f.FieldPath); ok {
			k := key
			if base == "metadata.annotations" {
				k = strings.ToLower(key)
			}
			if msg := isQualifiedName(k); msg != "" {
				v.add(fp, "invalid value %q: invalid key %q: %s", f.FieldPath, key, msg)
			}
			return
		}
	}
	list := quoteAll(allowed)
	if subscripts {
		list += `, "metadata.labels['<key>']", "metadata.annotations['<key>']"`
	}
	v.add(fp, "unsupported value %q: supported values: %s", f.FieldPath, list)
}

// fieldPathSubscript splits "metadata.labels['app']" into its map and
// key.
func fieldPathSubscript(s string) (base, key string, ok bool) {
	for _, b := range []string{"metadata.labels", "metadata.annotations"} {
		if rest, found := strings.CutPrefix(s, b+"['"); found && strings.HasSuffix(rest, "']") {
			return b, strings.TrimSuffix(rest, "']"), true
		}
	}
	return "", "", false
}

var (
	cpuDivisors    = []string{"1m", "1"}
	memoryDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

// resourceFieldRef checks a resource selector; in a volume (inVolume) the
// container must be named, in env it defaults to the variable's own.
func (v *validator) resourceFieldRef(r *ResourceFieldSelector, p fieldPath, s *PodSpec, inVolume bool) {
	cp := p.child("containerName")
	switch {
	case r.ContainerName == "" && inVolume:
		v.add(cp, "required: a downwardAPI volume's resourceFieldRef names the container whose resources it shows")
	case r.ContainerName != "" && !hasContainer(s, r.ContainerName):
		v.add(cp, "not found: no container named %q in the pod", r.ContainerName)
	}
	rp := p.child("resource")
	switch {
	case r.Resource == "":
		v.add(rp, "required")
		return
	case !containsString(resourceFieldPaths, r.Resource) && !isHugePagesField(r.Resource):
		v.add(rp, "unsupported value %q: supported values: %s", r.Resource, quoteAll(resourceFieldPaths))
		return
	}
	if r.Divisor == nil {
		return
	}
	divisors := memoryDivisors
	if strings.HasSuffix(r.Resource, ".cpu") {
		divisors = cpuDivisors
	}
	for _, d := range divisors {
		if q := resource.MustParse(d); q.Cmp(*r.Divisor) == 0 {
			return
		}
	}
	v.add(p.child("divisor"), "unsupported value %q: supported values: %s", r.Divisor.String(), quoteAll(divisors))
}

func isHugePagesField(s string) bool {
	_, rest, ok := strings.Cut(s, ".")
	return (strings.HasPrefix(s, "limits.") || strings.HasPrefix(s, "requests.")) && ok && IsHugePageResourceName(rest)
}

func hasContainer(s *PodSpec, name string) bool {
	for _, list := range [][]Container{s.Containers, s.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return true
			}
		}
	}
	return false
}
