package spec

import "strings"

// Defaults Kubernetes applies and Stevedore applies the same way, so that a
// manifest means here what it means there.
const (
	DefaultTerminationGracePeriodSeconds = 30
	DefaultProgressDeadlineSeconds       = 600
	DefaultRevisionHistoryLimit          = 10
	DefaultSchedulerName                 = "default-scheduler"
	DefaultMaxUnavailable                = "25%"
	DefaultMaxSurge                      = "25%"
)

// SetDefaults fills the unset fields of o with Kubernetes' defaults. Load
// calls it before validating; it is exported for callers that build objects
// in code. Applying it twice changes nothing.
func SetDefaults(o Object) {
	if Namespaced(o.GetTypeMeta().Kind) && o.GetObjectMeta().Namespace == "" {
		o.GetObjectMeta().Namespace = DefaultNamespace
	}
	switch o := o.(type) {
	case *Application:
		defaultApplication(o)
	case *Service:
		defaultServiceSpec(&o.Spec)
	case *Secret:
		defaultSecret(o)
	case *LimitRange:
		defaultLimitRange(o)
	case *PersistentVolumeClaim:
		defaultPVC(o)
	case *PersistentVolume:
		defaultPV(o)
	case *StorageClass:
		defaultStorageClass(o)
	case *Pod:
		defaultPodSpec(&o.Spec)
	case *PodTemplate:
		defaultPodSpec(&o.Template.Spec)
	case *ReplicationController:
		defaultReplicas(&o.Spec.Replicas)
		if t := o.Spec.Template; t != nil {
			defaultPodSpec(&t.Spec)
			// As in Kubernetes: an RC without a selector or labels takes
			// its template's labels for both.
			if len(o.Spec.Selector) == 0 && len(t.Labels) > 0 {
				o.Spec.Selector = copyMap(t.Labels)
			}
			if len(o.Labels) == 0 && len(t.Labels) > 0 {
				o.Labels = copyMap(t.Labels)
			}
		}
	case *Deployment:
		s := &o.Spec
		defaultReplicas(&s.Replicas)
		defaultPodSpec(&s.Template.Spec)
		if s.Strategy.Type == "" {
			s.Strategy.Type = RollingUpdateDeploymentStrategyType
		}
		if s.Strategy.Type == RollingUpdateDeploymentStrategyType {
			if s.Strategy.RollingUpdate == nil {
				s.Strategy.RollingUpdate = &RollingUpdateDeployment{}
			}
			ru := s.Strategy.RollingUpdate
			if ru.MaxUnavailable == nil {
				v := FromString(DefaultMaxUnavailable)
				ru.MaxUnavailable = &v
			}
			if ru.MaxSurge == nil {
				v := FromString(DefaultMaxSurge)
				ru.MaxSurge = &v
			}
		}
		if s.RevisionHistoryLimit == nil {
			v := int32(DefaultRevisionHistoryLimit)
			s.RevisionHistoryLimit = &v
		}
		if s.ProgressDeadlineSeconds == nil {
			v := int32(DefaultProgressDeadlineSeconds)
			s.ProgressDeadlineSeconds = &v
		}
	case *RoleBinding:
		defaultBinding(&o.RoleRef, o.Subjects)
	case *ClusterRoleBinding:
		defaultBinding(&o.RoleRef, o.Subjects)
	default:
		defaultWorkload(o)
	}
}

func defaultReplicas(r **int32) {
	if *r == nil {
		v := int32(1)
		*r = &v
	}
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func defaultPodSpec(s *PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.TerminationGracePeriodSeconds == nil {
		v := int64(DefaultTerminationGracePeriodSeconds)
		s.TerminationGracePeriodSeconds = &v
	}
	if s.SchedulerName == "" {
		s.SchedulerName = DefaultSchedulerName
	}
	normalizeDNSPolicy(s)
	normalizeServiceLinks(s)
	for i := range s.Tolerations {
		if s.Tolerations[i].Operator == "" {
			s.Tolerations[i].Operator = TolerationOpEqual
		}
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i])
	}
	defaultPodStorage(s)
}

// defaultContainer fills in an app or init container's defaults.
func defaultContainer(c *Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = DefaultPullPolicy(c.Image)
	}
	normalizeTerminationMessage(c)
	for j := range c.Ports {
		if c.Ports[j].Protocol == "" {
			c.Ports[j].Protocol = ProtocolTCP
		}
	}
	for name, limit := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; ok {
			continue
		}
		if c.Resources.Requests == nil {
			c.Resources.Requests = ResourceList{}
		}
		c.Resources.Requests[name] = limit.DeepCopy()
	}
	defaultContainerStorage(c)
}

// DefaultPullPolicy returns the pull policy Kubernetes gives image: Always
// for an untagged or ":latest" image (the tag moves, so the node must ask),
// IfNotPresent for any other tag or a digest.
func DefaultPullPolicy(image string) string {
	if strings.Contains(image, "@") {
		return PullIfNotPresent
	}
	name := image
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	i := strings.LastIndexByte(name, ':')
	if i < 0 || name[i+1:] == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

// normalizeTerminationMessage stores the termination message defaults
// (/dev/termination-log, File), which `kubectl get -o yaml` prints, as
// unset, so that writing them does not change a pod template's hash (they
// were accepted and dropped before Stevedore implemented them).
func normalizeTerminationMessage(c *Container) {
	if c.TerminationMessagePath == DefaultTerminationMessagePath {
		c.TerminationMessagePath = ""
	}
	if c.TerminationMessagePolicy == TerminationMessageReadFile {
		c.TerminationMessagePolicy = ""
	}
}
