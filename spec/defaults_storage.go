package spec

// This file holds the defaults of volumes, mounts, environment sources,
// security contexts, init containers and the configuration and storage
// kinds. Defaults inside a pod template that Kubernetes writes out (a
// volume's defaultMode 0644, fieldRef apiVersion v1, serviceAccountName
// default, an empty securityContext) are stored as unset, so that writing
// them does not change the template's hash; the agent applies them.

// DefaultVolumeMode is the permission bits of the files of a configMap,
// secret, downwardAPI or projected volume whose defaultMode (and item mode)
// is unset: 0644, Kubernetes' default. A defaultMode of 0644 is stored as
// unset.
const DefaultVolumeMode int32 = 0o644

// DefaultServiceAccountName is the service account a pod that names none
// has; it is stored as empty.
const DefaultServiceAccountName = "default"

// defaultPodStorage fills in (or normalises) the fields of a pod spec that
// this file is about; defaultPodSpec calls it.
func defaultPodStorage(s *PodSpec) {
	if s.ServiceAccountName == DefaultServiceAccountName {
		s.ServiceAccountName = ""
	}
	if sc := s.SecurityContext; sc != nil && isEmptyPodSecurityContext(sc) {
		s.SecurityContext = nil
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i])
	}
	for i := range s.Volumes {
		defaultVolumeSource(&s.Volumes[i].VolumeSource)
	}
}

// defaultContainerStorage normalises a container's mounts, environment
// sources and security context.
func defaultContainerStorage(c *Container) {
	if sc := c.SecurityContext; sc != nil && *sc == (SecurityContext{}) {
		c.SecurityContext = nil
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil {
			normalizeFieldRef(vf.FieldRef)
		}
	}
}

func isEmptyPodSecurityContext(sc *PodSecurityContext) bool {
	return sc.RunAsUser == nil && sc.RunAsGroup == nil && sc.RunAsNonRoot == nil &&
		len(sc.SupplementalGroups) == 0 && sc.FSGroup == nil && sc.FSGroupChangePolicy == nil &&
		sc.SeccompProfile == nil && len(sc.Sysctls) == 0
}

// normalizeFieldRef stores apiVersion v1, the default, as unset.
func normalizeFieldRef(f *ObjectFieldSelector) {
	if f.APIVersion == CoreV1 {
		f.APIVersion = ""
	}
}

// normalizeMode stores DefaultVolumeMode as unset.
func normalizeMode(m **int32) {
	if *m != nil && **m == DefaultVolumeMode {
		*m = nil
	}
}

func defaultVolumeSource(v *VolumeSource) {
	if hp := v.HostPath; hp != nil && hp.Type != nil && *hp.Type == HostPathUnset {
		hp.Type = nil
	}
	if s := v.Secret; s != nil {
		normalizeMode(&s.DefaultMode)
	}
	if c := v.ConfigMap; c != nil {
		normalizeMode(&c.DefaultMode)
	}
	if d := v.DownwardAPI; d != nil {
		normalizeMode(&d.DefaultMode)
		defaultDownwardAPIFiles(d.Items)
	}
	if p := v.Projected; p != nil {
		normalizeMode(&p.DefaultMode)
		for i := range p.Sources {
			if d := p.Sources[i].DownwardAPI; d != nil {
				defaultDownwardAPIFiles(d.Items)
			}
		}
	}
}

func defaultDownwardAPIFiles(items []DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil {
			normalizeFieldRef(f)
		}
	}
}

// LastAppliedConfigAnnotation is kubectl apply's copy of the object it
// applied. Manifests exported from a cluster carry it; on a Secret it
// holds the whole object, values included.
const LastAppliedConfigAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// defaultSecret merges stringData into data (a key in both takes
// stringData's value, as the API server does), sets the type and drops
// LastAppliedConfigAnnotation: a copy of the values in the metadata would
// reach everything that prints metadata (diffs, the API, events), where
// only data and stringData are redacted.
func defaultSecret(s *Secret) {
	if _, ok := s.Annotations[LastAppliedConfigAnnotation]; ok {
		delete(s.Annotations, LastAppliedConfigAnnotation)
		if len(s.Annotations) == 0 {
			s.Annotations = nil
		}
	}
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

func defaultPVC(c *PersistentVolumeClaim) {
	if c.Spec.VolumeMode == nil {
		m := VolumeModeFilesystem
		c.Spec.VolumeMode = &m
	}
}

func defaultPV(v *PersistentVolume) {
	if v.Spec.PersistentVolumeReclaimPolicy == "" {
		v.Spec.PersistentVolumeReclaimPolicy = ReclaimRetain
	}
	if v.Spec.VolumeMode == nil {
		m := VolumeModeFilesystem
		v.Spec.VolumeMode = &m
	}
}

func defaultStorageClass(c *StorageClass) {
	if c.ReclaimPolicy == nil {
		p := ReclaimDelete
		c.ReclaimPolicy = &p
	}
	if c.VolumeBindingMode == nil {
		m := VolumeBindingImmediate
		c.VolumeBindingMode = &m
	}
}
