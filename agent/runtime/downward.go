package runtime

// Pod fields and container resources as the downward API gives them, to
// env (fieldRef, resourceFieldRef) and to downwardAPI volumes, in
// Kubernetes' formats.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// podFacts is what the downward API reads beside the pod itself.
type podFacts struct {
	pod      *api.Pod
	nodeName string
	podIP    string
	hostIP   string
	// allocatable is the node's, for limits a container does not set.
	allocMilliCPU int64
	allocMemory   int64
	allocStorage  int64
}

// fieldValue returns the value of a fieldRef's path.
func (f *podFacts) fieldValue(path string) (string, error) {
	p := f.pod
	if key, ok := subscript(path, "metadata.labels"); ok {
		return p.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return p.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return p.UID, nil
	case "metadata.labels":
		return formatMap(p.Labels), nil
	case "metadata.annotations":
		return formatMap(p.Annotations), nil
	case "spec.nodeName":
		return f.nodeName, nil
	case "spec.serviceAccountName":
		if p.Spec.ServiceAccountName == "" {
			return "default", nil
		}
		return p.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return f.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return f.hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript parses `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	key, ok := strings.CutSuffix(rest, "']")
	return key, ok
}

// formatMap is Kubernetes' format of labels and annotations in a
// downwardAPI file: `key="value"` lines (the value quoted as Go's %q),
// sorted by key.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	return b.String()
}

// resourceValue returns a container's resource in units of the divisor,
// rounded up as Kubernetes does (so 250m of CPU with divisor 1 is "1").
// A limit the container does not set is the node's allocatable, as the
// kubelet gives it; a request it does not set is 0 (spec defaulting copies
// a set limit into an unset request).
func (f *podFacts) resourceValue(containerName string, sel *spec.ResourceFieldSelector) (string, error) {
	var c *spec.Container
	for i := range f.pod.Spec.Containers {
		if f.pod.Spec.Containers[i].Name == containerName {
			c = &f.pod.Spec.Containers[i]
		}
	}
	for i := range f.pod.Spec.InitContainers {
		if c == nil && f.pod.Spec.InitContainers[i].Name == containerName {
			c = &f.pod.Spec.InitContainers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: no container %q in the pod", containerName)
	}
	divisor := resource.MustParse("1")
	if sel.Divisor != nil && !sel.Divisor.IsZero() {
		divisor = *sel.Divisor
	}
	kind, name, ok := strings.Cut(sel.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef: unsupported resource %q", sel.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, set := list[name]
	if !set && kind == "limits" {
		switch name {
		case spec.ResourceCPU:
			q = *resource.NewMilliQuantity(f.allocMilliCPU, resource.DecimalSI)
		case spec.ResourceMemory:
			q = *resource.NewQuantity(f.allocMemory, resource.BinarySI)
		case spec.ResourceEphemeralStorage:
			q = *resource.NewQuantity(f.allocStorage, resource.BinarySI)
		}
	}
	switch name {
	case spec.ResourceCPU:
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	case spec.ResourceMemory, spec.ResourceEphemeralStorage:
		return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
	}
	return "", fmt.Errorf("resourceFieldRef: unsupported resource %q", sel.Resource)
}
