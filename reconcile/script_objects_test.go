package reconcile

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

func copySet(s *spec.Set) *spec.Set {
	out := spec.NewSet()
	if s == nil {
		return out
	}
	for k, o := range s.Objects {
		out.Objects[k] = o
	}
	for k, src := range s.Sources {
		out.Sources[k] = src
	}
	return out
}

func parseKey(s string) (spec.ObjectKey, error) {
	p := strings.Split(s, "/")
	switch len(p) {
	case 2:
		return spec.ObjectKey{Kind: p[0], Name: p[1]}, nil
	case 3:
		return spec.ObjectKey{Kind: p[0], Namespace: p[1], Name: p[2]}, nil
	}
	return spec.ObjectKey{}, fmt.Errorf("bad key %q: want Kind/ns/name or Kind/name", s)
}

// addObject adds one object written in the scripts' short form:
//
//	deployment|rc NAME [ns=NS] [replicas=N] image=IMG [cpu=Q] [mem=Q] [label=k=v] [strategy=Recreate] [maxSurge=N|P%] [maxUnavailable=N|P%] [minReady=S] [deadline=S] [paused] [cmd=a,b]
//	daemonset NAME [ns=NS] image=IMG [cpu=Q] [label=k=v] [nodeSelector=k=v,...] [tolerate=KEY,...] [strategy=OnDelete] [maxSurge=N|P%] [maxUnavailable=N|P%] [minReady=S] [port=HOSTPORT]
//	pod NAME [ns=NS] image=IMG [cpu=Q] [mem=Q] [label=k=v] [nodeName=N] [cmd=a,b] [restart=Never|OnFailure]
//	nodeobj NAME [unschedulable] [label=k=v] [taint=k=v:Effect]
//	namespace NAME
//	pvc NAME [ns=NS] size=Q [modes=ReadWriteOnce,...] [class=C|class=none] [volumeName=V] [selector=k=v]
//	pv NAME size=Q [modes=...] [class=C] [node=N] [path=P] [driver=D] [reclaim=R] [claimRef=ns/name] [label=k=v]
//	storageclass NAME provisioner=P [wffc] [reclaim=R] [default] [nodelocal]
//	configmap|secret NAME [ns=NS] data=k=v,...
//	statefulset|replicaset NAME: see appsObject (script_apps_test.go)
//
// Pods and workloads take claim=NAME,... (a volume and mount each),
// configmap=NAME (envFrom) and secret=NAME (a secret volume).
//
// It builds objects as spec.Load would return them (defaulted), without
// depending on the decoder.
func addObject(set *spec.Set, f []string) error {
	if len(f) < 2 {
		return fmt.Errorf("object line needs a kind and a name")
	}
	kind, name, a := f[0], f[1], args(f[2:])
	ns := a["ns"]
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	labels := map[string]string{}
	if l := a["label"]; l != "" {
		for _, kv := range strings.Split(l, ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = v
		}
	}
	podSpec := func() spec.PodSpec {
		c := spec.Container{Name: "main", Image: a["image"]}
		if a["cmd"] != "" {
			c.Command = strings.Split(a["cmd"], ",")
		}
		if a["cpu"] != "" || a["mem"] != "" {
			c.Resources.Requests = spec.ResourceList{}
			if a["cpu"] != "" {
				c.Resources.Requests[spec.ResourceCPU] = resource.MustParse(a["cpu"])
			}
			if a["mem"] != "" {
				c.Resources.Requests[spec.ResourceMemory] = resource.MustParse(a["mem"])
			}
		}
		restart := spec.RestartPolicyAlways
		if r := a["restart"]; r != "" {
			restart = r
		}
		ps := spec.PodSpec{Containers: []spec.Container{c}, RestartPolicy: restart, NodeName: a["nodeName"]}
		if v := a["claim"]; v != "" {
			for _, cl := range strings.Split(v, ",") {
				ps.Volumes = append(ps.Volumes, spec.Volume{Name: cl, VolumeSource: spec.VolumeSource{PersistentVolumeClaim: &spec.PersistentVolumeClaimVolumeSource{ClaimName: cl}}})
				ps.Containers[0].VolumeMounts = append(ps.Containers[0].VolumeMounts, spec.VolumeMount{Name: cl, MountPath: "/" + cl})
			}
		}
		if v := a["configmap"]; v != "" {
			ps.Containers[0].EnvFrom = append(ps.Containers[0].EnvFrom, spec.EnvFromSource{ConfigMapRef: &spec.ConfigMapEnvSource{Name: v}})
		}
		if v := a["secret"]; v != "" {
			ps.Volumes = append(ps.Volumes, spec.Volume{Name: "secret", VolumeSource: spec.VolumeSource{Secret: &spec.SecretVolumeSource{SecretName: v}}})
		}
		return ps
	}
	data := map[string]string{}
	if d := a["data"]; d != "" {
		for _, kv := range strings.Split(d, ",") {
			k, v, _ := strings.Cut(kv, "=")
			data[k] = v
		}
	}
	var modes []string
	if m := a["modes"]; m != "" {
		modes = strings.Split(m, ",")
	} else {
		modes = []string{spec.ReadWriteOnce}
	}
	var o spec.Object
	switch kind {
	case "deployment", "rc":
		if len(labels) == 0 {
			labels["app"] = name
		}
		r := int32(1)
		if v, ok := a["replicas"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			r = int32(n)
		}
		tmpl := spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: labels}, Spec: podSpec()}
		if kind == "rc" {
			o = &spec.ReplicationController{
				TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindReplicationController},
				ObjectMeta: spec.ObjectMeta{Name: name, Namespace: ns},
				Spec:       spec.ReplicationControllerSpec{Replicas: &r, Selector: labels, Template: &tmpl},
			}
			break
		}
		d := &spec.Deployment{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindDeployment},
			ObjectMeta: spec.ObjectMeta{Name: name, Namespace: ns},
			Spec: spec.DeploymentSpec{
				Replicas: &r,
				Selector: &spec.LabelSelector{MatchLabels: labels},
				Template: tmpl,
				Strategy: spec.DeploymentStrategy{Type: spec.RollingUpdateDeploymentStrategyType},
			},
		}
		_, d.Spec.Paused = a["paused"]
		if s := a["strategy"]; s != "" {
			d.Spec.Strategy.Type = s
		}
		if v := a["minReady"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			d.Spec.MinReadySeconds = int32(n)
		}
		if v := a["deadline"]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			d.Spec.ProgressDeadlineSeconds = int32p(int32(n))
		}
		for _, name := range []string{"maxSurge", "maxUnavailable"} {
			v, ok := a[name]
			if !ok {
				continue
			}
			if d.Spec.Strategy.RollingUpdate == nil {
				d.Spec.Strategy.RollingUpdate = &spec.RollingUpdateDeployment{}
			}
			x := spec.FromString(v)
			if n, err := strconv.Atoi(v); err == nil {
				x = spec.FromInt(int32(n))
			}
			if ru := d.Spec.Strategy.RollingUpdate; name == "maxSurge" {
				ru.MaxSurge = &x
			} else {
				ru.MaxUnavailable = &x
			}
		}
		o = d
	case "daemonset":
		ds, err := daemonSetLine(name, ns, labels, a, podSpec())
		if err != nil {
			return err
		}
		o = ds
	case "pod":
		if len(labels) == 0 {
			labels = nil
		}
		o = &spec.Pod{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPod},
			ObjectMeta: spec.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec:       podSpec(),
		}
	case "nodeobj":
		n := &spec.Node{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindNode},
			ObjectMeta: spec.ObjectMeta{Name: name},
		}
		if len(labels) > 0 {
			n.Labels = labels
		}
		_, n.Spec.Unschedulable = a["unschedulable"]
		if t := a["taint"]; t != "" {
			for _, s := range strings.Split(t, ",") {
				kv, eff, _ := strings.Cut(s, ":")
				k, v, _ := strings.Cut(kv, "=")
				n.Spec.Taints = append(n.Spec.Taints, spec.Taint{Key: k, Value: v, Effect: eff})
			}
		}
		o = n
	case "namespace":
		o = &spec.Namespace{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindNamespace},
			ObjectMeta: spec.ObjectMeta{Name: name},
		}
	case "pvc", "pv", "storageclass", "configmap", "secret":
		o = storageObject(kind, name, ns, a, labels, data, modes)
	case "statefulset", "replicaset":
		if len(labels) == 0 {
			labels["app"] = name
		}
		var err error
		if o, err = appsObject(kind, name, ns, a, labels, podSpec()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	k := spec.KeyOf(o)
	set.Objects[k] = o
	set.Sources[k] = spec.Source{File: "script", Line: 1}
	return nil
}

// storageObject builds the short forms of the storage and configuration
// kinds.
func storageObject(kind, name, ns string, a, labels, data map[string]string, modes []string) spec.Object {
	meta := spec.ObjectMeta{Name: name, Namespace: ns}
	size := func() spec.ResourceList {
		if a["size"] == "" {
			return nil
		}
		return spec.ResourceList{"storage": resource.MustParse(a["size"])}
	}
	switch kind {
	case "pvc":
		c := &spec.PersistentVolumeClaim{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolumeClaim}, ObjectMeta: meta}
		c.Spec.AccessModes = modes
		c.Spec.Resources.Requests = size()
		c.Spec.VolumeName = a["volumeName"]
		if v, ok := a["class"]; ok {
			if v == "none" {
				v = ""
			}
			c.Spec.StorageClassName = &v
		}
		if sel := a["selector"]; sel != "" {
			k, v, _ := strings.Cut(sel, "=")
			c.Spec.Selector = &spec.LabelSelector{MatchLabels: map[string]string{k: v}}
		}
		return c
	case "pv":
		meta.Namespace = ""
		if len(labels) > 0 {
			meta.Labels = labels
		}
		pv := &spec.PersistentVolume{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolume}, ObjectMeta: meta}
		pv.Spec.Capacity = size()
		pv.Spec.AccessModes = modes
		if c := a["class"]; c != "none" {
			pv.Spec.StorageClassName = c
		}
		pv.Spec.PersistentVolumeReclaimPolicy = a["reclaim"]
		if d := a["driver"]; d != "" {
			pv.Spec.CSI = &spec.CSIPersistentVolumeSource{Driver: d, VolumeHandle: name}
		} else {
			pv.Spec.Local = &spec.LocalVolumeSource{Path: a["path"]}
		}
		if n := a["node"]; n != "" {
			pv.Spec.NodeAffinity = &spec.VolumeNodeAffinity{Required: &spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
				MatchExpressions: []spec.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{n}}}}}}}
		}
		if r := a["claimRef"]; r != "" {
			rns, rname, _ := strings.Cut(r, "/")
			pv.Spec.ClaimRef = &spec.ObjectReference{Namespace: rns, Name: rname}
		}
		return pv
	case "storageclass":
		meta.Namespace = ""
		sc := &spec.StorageClass{TypeMeta: spec.TypeMeta{APIVersion: spec.StorageV1, Kind: spec.KindStorageClass}, ObjectMeta: meta, Provisioner: a["provisioner"]}
		if _, ok := a["default"]; ok {
			sc.Annotations = map[string]string{spec.DefaultStorageClassAnnotation: "true"}
		}
		if _, ok := a["wffc"]; ok {
			m := spec.VolumeBindingWaitForFirstConsumer
			sc.VolumeBindingMode = &m
		}
		if r := a["reclaim"]; r != "" {
			sc.ReclaimPolicy = &r
		}
		if _, ok := a["nodelocal"]; ok {
			sc.Parameters = map[string]string{NodeLocalParameter: "true"}
		}
		return sc
	case "configmap":
		return &spec.ConfigMap{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindConfigMap}, ObjectMeta: meta, Data: data}
	default:
		s := &spec.Secret{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindSecret}, ObjectMeta: meta, Type: spec.SecretTypeOpaque, Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
}
