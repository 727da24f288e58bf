package runtime

// The files of configMap, secret, downwardAPI and projected volumes, with
// Kubernetes' semantics: every key as a file of its name, or only the
// items listed at their paths; a file's mode is its item's, else the
// volume's defaultMode, else 0644; a missing object or listed key fails
// the container (CreateContainerConfigError) unless optional, which
// leaves it out.

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

const defaultVolumeMode = 0o644

func modeOr(m *int32, def os.FileMode) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & 0o777
	}
	return def
}

// payload is the files of a projected kind of volume.
func (w *podWorker) payload(v *spec.Volume) (map[string]fileProjection, error) {
	out := map[string]fileProjection{}
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		return out, w.keysPayload(out, spec.KindConfigMap, s.Name, s.Items, modeOr(s.DefaultMode, defaultVolumeMode), isTrue(s.Optional))
	case v.Secret != nil:
		s := v.Secret
		return out, w.keysPayload(out, spec.KindSecret, s.SecretName, s.Items, modeOr(s.DefaultMode, defaultVolumeMode), isTrue(s.Optional))
	case v.DownwardAPI != nil:
		return out, w.downwardPayload(out, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode, defaultVolumeMode))
	case v.Projected != nil:
		def := modeOr(v.Projected.DefaultMode, defaultVolumeMode)
		for _, src := range v.Projected.Sources {
			var err error
			switch {
			case src.ConfigMap != nil:
				err = w.keysPayload(out, spec.KindConfigMap, src.ConfigMap.Name, src.ConfigMap.Items, def, isTrue(src.ConfigMap.Optional))
			case src.Secret != nil:
				err = w.keysPayload(out, spec.KindSecret, src.Secret.Name, src.Secret.Items, def, isTrue(src.Secret.Optional))
			case src.DownwardAPI != nil:
				err = w.downwardPayload(out, src.DownwardAPI.Items, def)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return out, nil
}

// keysPayload adds a ConfigMap's or Secret's keys to out.
func (w *podWorker) keysPayload(out map[string]fileProjection, kind, name string, items []spec.KeyToPath, def os.FileMode, optional bool) error {
	lower := strings.ToLower(kind)
	obj := w.r.config.get(kind, w.pod.Namespace, name)
	if obj == nil {
		if optional {
			return nil
		}
		return configErrorf("%s %q not found", lower, name)
	}
	if len(items) == 0 {
		for k, v := range obj.Data {
			out[k] = fileProjection{data: v, mode: def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := obj.Data[it.Key]
		if !ok {
			if optional {
				continue
			}
			if kind == spec.KindSecret {
				return configErrorf("secret %s/%s references non-existent secret key: %s", w.pod.Namespace, name, it.Key)
			}
			return configErrorf("configmap %s/%s references non-existent config key: %s", w.pod.Namespace, name, it.Key)
		}
		out[it.Path] = fileProjection{data: v, mode: modeOr(it.Mode, def)}
	}
	return nil
}

// downwardPayload adds downward API files to out.
func (w *podWorker) downwardPayload(out map[string]fileProjection, items []spec.DownwardAPIVolumeFile, def os.FileMode) error {
	f := w.facts()
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = f.fieldValue(it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			val, err = f.resourceValue(it.ResourceFieldRef.ContainerName, it.ResourceFieldRef)
		}
		if err != nil {
			return configErrorf("downwardAPI file %q: %v", it.Path, err)
		}
		out[it.Path] = fileProjection{data: []byte(val), mode: modeOr(it.Mode, def)}
	}
	return nil
}

// volumeSig names the versions of the objects v projects ("" for a
// missing one): the volume is rewritten when it changes.
func (w *podWorker) volumeSig(v *spec.Volume) string {
	var refs []string
	add := func(kind, name string) {
		refs = append(refs, kind+"/"+name+"@"+w.r.config.version(kind, w.pod.Namespace, name))
	}
	switch {
	case v.ConfigMap != nil:
		add(spec.KindConfigMap, v.ConfigMap.Name)
	case v.Secret != nil:
		add(spec.KindSecret, v.Secret.SecretName)
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			switch {
			case s.ConfigMap != nil:
				add(spec.KindConfigMap, s.ConfigMap.Name)
			case s.Secret != nil:
				add(spec.KindSecret, s.Secret.Name)
			}
		}
	}
	sort.Strings(refs)
	return fmt.Sprint(refs)
}
