package runtime

// A container's environment, built at each start as the kubelet's
// makeEnvironmentVariables does: envFrom sources in order (a later one
// wins; keys that are not valid variable names are skipped with an
// event), then env in order (winning over envFrom; a later entry wins;
// values have $(VAR) references to variables defined before expanded),
// then the Service variables (envvars.go) the container does not define.
// Values from ConfigMaps and Secrets are read at the start: a change shows
// in env only when the container starts again.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// configError is a container that cannot start until its config changes:
// a missing ConfigMap, Secret or key that is not optional, a subPath that
// leaves its volume, a security context the node cannot meet (runAsNonRoot
// with UID 0, privileged without --allow-privileged). Shown as
// CreateContainerConfigError.
type configError struct {
	msg string
	// wait is closed by the next config change after the attempt.
	wait <-chan struct{}
}

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, a ...any) error {
	return &configError{msg: fmt.Sprintf(format, a...)}
}

// envInput is what a container's environment is made of.
type envInput struct {
	facts    *podFacts
	ctr      *spec.Container
	services []spec.EnvVar
	lookup   func(kind, namespace, name string) *api.ConfigObject
}

// envVarName is Kubernetes' rule for a variable name (IsEnvVarName).
var envVarName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// makeEnv returns the container's "NAME=value" variables beyond its
// image's, and the warnings to record as InvalidEnvironmentVariableNames
// events. The error is a *configError for a missing source.
func makeEnv(in envInput) ([]string, []string, error) {
	p := in.facts.pod
	vals := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	var warnings []string
	for _, ef := range in.ctr.EnvFrom {
		var kind, name, what string
		var optional bool
		switch {
		case ef.ConfigMapRef != nil:
			kind, name, what, optional = spec.KindConfigMap, ef.ConfigMapRef.Name, "configMap", isTrue(ef.ConfigMapRef.Optional)
		case ef.SecretRef != nil:
			kind, name, what, optional = spec.KindSecret, ef.SecretRef.Name, "secret", isTrue(ef.SecretRef.Optional)
		default:
			continue
		}
		obj := in.lookup(kind, p.Namespace, name)
		if obj == nil {
			if optional {
				continue
			}
			return nil, nil, configErrorf("%s %q not found", strings.ToLower(kind), name)
		}
		keys := make([]string, 0, len(obj.Data))
		for k := range obj.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var invalid []string
		for _, k := range keys {
			n := ef.Prefix + k
			if !envVarName.MatchString(n) {
				invalid = append(invalid, n)
				continue
			}
			set(n, string(obj.Data[k]))
		}
		if len(invalid) > 0 {
			warnings = append(warnings, fmt.Sprintf("Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), what, p.Namespace, name))
		}
	}
	svc := make(map[string]string, len(in.services))
	for _, e := range in.services {
		svc[e.Name] = e.Value
	}
	mapping := func(name string) string {
		if v, ok := vals[name]; ok {
			return v
		}
		if v, ok := svc[name]; ok {
			return v
		}
		return "$(" + name + ")"
	}
	for _, e := range in.ctr.Env {
		v := e.Value
		switch {
		case v != "":
			v = expandVars(v, mapping)
		case e.ValueFrom != nil:
			var ok bool
			var err error
			v, ok, err = envValueFrom(in, e.ValueFrom)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue // optional and missing: not set at all
			}
		}
		set(e.Name, v)
	}
	env := make([]string, 0, len(order)+len(in.services))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	for _, e := range in.services {
		if _, ok := vals[e.Name]; !ok {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return env, warnings, nil
}

// envValueFrom resolves one valueFrom; ok is false for an optional source
// that is missing.
func envValueFrom(in envInput, src *spec.EnvVarSource) (string, bool, error) {
	p := in.facts.pod
	switch {
	case src.FieldRef != nil:
		v, err := in.facts.fieldValue(src.FieldRef.FieldPath)
		if err != nil {
			return "", false, configErrorf("%v", err)
		}
		return v, true, nil
	case src.ResourceFieldRef != nil:
		name := src.ResourceFieldRef.ContainerName
		if name == "" {
			name = in.ctr.Name
		}
		v, err := in.facts.resourceValue(name, src.ResourceFieldRef)
		if err != nil {
			return "", false, configErrorf("%v", err)
		}
		return v, true, nil
	case src.ConfigMapKeyRef != nil:
		return keyValue(in, spec.KindConfigMap, p.Namespace, src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key, isTrue(src.ConfigMapKeyRef.Optional))
	case src.SecretKeyRef != nil:
		return keyValue(in, spec.KindSecret, p.Namespace, src.SecretKeyRef.Name, src.SecretKeyRef.Key, isTrue(src.SecretKeyRef.Optional))
	}
	return "", true, nil
}

// keyValue reads one key, with the kubelet's messages.
func keyValue(in envInput, kind, ns, name, key string, optional bool) (string, bool, error) {
	obj := in.lookup(kind, ns, name)
	if obj == nil {
		if optional {
			return "", false, nil
		}
		return "", false, configErrorf("%s %q not found", strings.ToLower(kind), name)
	}
	v, ok := obj.Data[key]
	if !ok {
		if optional {
			return "", false, nil
		}
		return "", false, configErrorf("couldn't find key %s in %s %s/%s", key, kind, ns, name)
	}
	return string(v), true, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// expandVars is Kubernetes' $(VAR) expansion (third_party/forked/golang/
// expansion): $(NAME) is replaced by mapping(NAME); $$ is a literal $;
// a $ before anything else, or a $( never closed, stays as written.
// mapping returns "$(NAME)" for a name it does not know, so an unknown
// reference stays literal.
func expandVars(in string, mapping func(string) string) string {
	var b strings.Builder
	checkpoint := 0
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			continue
		}
		b.WriteString(in[checkpoint:i])
		rest := in[i+1:]
		advance := 1
		switch rest[0] {
		case '$':
			b.WriteByte('$')
		case '(':
			end := strings.IndexByte(rest[1:], ')')
			if end < 0 {
				b.WriteString("$(")
			} else {
				b.WriteString(mapping(rest[1 : 1+end]))
				advance = end + 2
			}
		default:
			b.WriteByte('$')
			b.WriteByte(rest[0])
		}
		i += advance
		checkpoint = i + 1
	}
	b.WriteString(in[checkpoint:])
	return b.String()
}

// needsPodIP reports whether the container's env reads the pod's IP, known
// only once its sandbox is up.
func needsPodIP(c *spec.Container) bool {
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && strings.HasPrefix(e.ValueFrom.FieldRef.FieldPath, "status.podIP") {
			return true
		}
	}
	return false
}
