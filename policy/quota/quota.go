// Package quota counts what a namespace's desired state uses against its
// ResourceQuotas, as Kubernetes' quota admission counts what a namespace's
// objects use, and words refusals as Kubernetes does ("exceeded quota:
// compute, requested: requests.cpu=500m, used: requests.cpu=1500m,
// limited: requests.cpu=2").
//
// Kubernetes counts the pods that exist; a GitOps reconciler knows the
// pods a revision asks for before any exists, so usage here is the desired
// state's: every workload's pods (replicas, Job parallelism, a DaemonSet's
// nodes) times its pod's requests and limits, every claim, Service and
// object of the namespace, across every application that declares objects
// in it. It is pure: sets in, usage and refusals out.
package quota

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Options are what counting needs beyond the objects.
type Options struct {
	// Nodes is how many nodes the cluster has: a DaemonSet counts one pod
	// per node (whatever its nodeSelector and tolerations: an upper
	// bound). 0 counts DaemonSets as no pods.
	Nodes int
	// Rolling are the workloads whose pod template this revision changes:
	// a RollingUpdate Deployment among them also counts the pods its
	// maxSurge adds while old and new pods run side by side. nil counts
	// steady state only.
	Rolling map[spec.ObjectKey]bool
}

// Usage is what a namespace (or one object) uses, by quota resource name.
type Usage map[string]resource.Quantity

func (u Usage) add(name string, q resource.Quantity) {
	sum := u[name]
	sum.Add(q)
	u[name] = sum
}

func (u Usage) addInt(name string, n int64) {
	u.add(name, *resource.NewQuantity(n, resource.DecimalSI))
}

// Get returns u's quantity for name (zero when absent).
func (u Usage) Get(name string) resource.Quantity { return u[name] }

// PodCount returns how many pods o runs in the desired state, and how
// many more while its rolling update (opts.Rolling) surges.
func PodCount(o spec.Object, opts Options) (pods, surge int64) {
	switch o := o.(type) {
	case *spec.Pod:
		return 1, 0
	case *spec.Deployment:
		n := replicas(o.Spec.Replicas)
		if opts.Rolling[spec.KeyOf(o)] && o.Spec.Strategy.Type == spec.RollingUpdateDeploymentStrategyType {
			ms := spec.FromString(spec.DefaultMaxSurge)
			if ru := o.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
				ms = *ru.MaxSurge
			}
			if s, err := ms.Scaled(int(n), true); err == nil {
				surge = int64(s)
			}
		}
		return n, surge
	case *spec.ReplicaSet:
		return replicas(o.Spec.Replicas), 0
	case *spec.ReplicationController:
		if o.Spec.Template == nil {
			return 0, 0
		}
		return replicas(o.Spec.Replicas), 0
	case *spec.StatefulSet:
		return replicas(o.Spec.Replicas), 0
	case *spec.DaemonSet:
		return int64(opts.Nodes), 0
	case *spec.Job:
		return jobPods(&o.Spec), 0
	case *spec.CronJob:
		if o.Spec.Suspend != nil && *o.Spec.Suspend {
			return 0, 0
		}
		return jobPods(&o.Spec.JobTemplate.Spec), 0
	}
	return 0, 0
}

func replicas(r *int32) int64 {
	if r == nil {
		return 1
	}
	return int64(*r)
}

// jobPods is the most pods a Job runs at once: its parallelism, at most
// its completions; none while suspended.
func jobPods(s *spec.JobSpec) int64 {
	if s.Suspend != nil && *s.Suspend {
		return 0
	}
	n := int64(1)
	if s.Parallelism != nil {
		n = int64(*s.Parallelism)
	}
	if s.Completions != nil && int64(*s.Completions) < n {
		n = int64(*s.Completions)
	}
	return n
}

// ObjectUsage is what one object uses: its pods' count and resources
// (pods × the pod's requests and limits, surge included), its claims,
// and one of its kind for the object counts.
func ObjectUsage(o spec.Object, opts Options) Usage {
	u := Usage{}
	kind := o.GetTypeMeta().Kind
	if kind != spec.KindPod {
		for name, k := range countNames {
			if k == kind {
				u.addInt(name, 1)
			}
		}
	}
	switch o := o.(type) {
	case *spec.PersistentVolumeClaim:
		claimUsage(u, o, 1)
	case *spec.Service:
		if o.Spec.Type == spec.ServiceTypeNodePort || o.Spec.Type == spec.ServiceTypeLoadBalancer {
			u.addInt(spec.QuotaServicesNodePorts, int64(len(o.Spec.Ports)))
		}
		if o.Spec.Type == spec.ServiceTypeLoadBalancer {
			u.addInt(spec.QuotaServicesLoadBalancers, 1)
		}
	}
	if o.GetTypeMeta().Kind == spec.KindPodTemplate {
		return u
	}
	ps, _ := spec.PodSpecOf(o)
	if ps == nil {
		return u
	}
	pods, surge := PodCount(o, opts)
	n := pods + surge
	u.addInt(spec.QuotaPods, n)
	u.addInt("count/pods", n)
	req, lim := spec.PodResources(ps)
	for _, r := range spec.QuotaComputeResources {
		if q, ok := req[r]; ok {
			q = times(q, n)
			u.add("requests."+r, q)
			if r == spec.ResourceCPU || r == spec.ResourceMemory {
				u.add(r, q)
			}
		}
		if q, ok := lim[r]; ok {
			u.add("limits."+r, times(q, n))
		}
	}
	if sts, ok := o.(*spec.StatefulSet); ok {
		for i := range sts.Spec.VolumeClaimTemplates {
			claimUsage(u, &sts.Spec.VolumeClaimTemplates[i], pods)
		}
	}
	return u
}

func claimUsage(u Usage, c *spec.PersistentVolumeClaim, n int64) {
	u.addInt(spec.QuotaPersistentVolumeClaims, n)
	u.addInt(spec.QuotaCountPrefix+"persistentvolumeclaims", n)
	if q, ok := c.Spec.Resources.Requests[spec.ResourceStorage]; ok {
		u.add(spec.QuotaRequestsStorage, times(q, n))
	}
}

// times returns n×q exactly (Quantity has no multiplication): by doubling,
// so a large replica count costs log(n) additions.
func times(q resource.Quantity, n int64) resource.Quantity {
	out := resource.Quantity{Format: q.Format}
	pow := q.DeepCopy()
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			out.Add(pow)
		}
		pow.Add(pow.DeepCopy())
	}
	return out
}

// countNames maps the object count names to their kinds, for every kind
// spec loads that is namespaced (count/configmaps, configmaps, ...).
var countNames = func() map[string]string {
	out := map[string]string{}
	for _, name := range []string{spec.QuotaServices, spec.QuotaConfigMaps, spec.QuotaSecrets,
		spec.QuotaReplicationControllers, spec.QuotaResourceQuotas} {
		out[name] = spec.QuotaObjectKind(name)
	}
	for _, kv := range spec.SupportedKinds() {
		apiVersion, kind, _ := strings.Cut(kv, " ")
		if !spec.Namespaced(kind) || kind == spec.KindPod || kind == spec.KindPersistentVolumeClaim {
			continue
		}
		group, _, found := strings.Cut(apiVersion, "/")
		name := spec.QuotaCountPrefix + plural(kind)
		if found {
			name += "." + group
		}
		if spec.QuotaObjectKind(name) == kind {
			out[name] = kind
		}
	}
	return out
}()

func plural(kind string) string {
	l := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(l, "s"):
		return l + "es"
	case strings.HasSuffix(l, "y"):
		return strings.TrimSuffix(l, "y") + "ies"
	}
	return l + "s"
}

// NamespaceUsage sums ObjectUsage over set's objects by namespace.
func NamespaceUsage(set *spec.Set, opts Options) map[string]Usage {
	return namespaceUsage(set, opts, nil)
}

// namespaceUsage is NamespaceUsage of the namespaces in only (all when
// nil).
func namespaceUsage(set *spec.Set, opts Options, only map[string][]*spec.ResourceQuota) map[string]Usage {
	out := map[string]Usage{}
	if set == nil {
		return out
	}
	for k, o := range set.Objects {
		if k.Namespace == "" {
			continue
		}
		if _, ok := only[k.Namespace]; only != nil && !ok {
			continue
		}
		u := out[k.Namespace]
		if u == nil {
			u = Usage{}
			out[k.Namespace] = u
		}
		for name, q := range ObjectUsage(o, opts) {
			u.add(name, q)
		}
	}
	return out
}

// Quotas returns the ResourceQuotas of set by namespace, sorted by name.
func Quotas(set *spec.Set) map[string][]*spec.ResourceQuota {
	out := map[string][]*spec.ResourceQuota{}
	if set == nil {
		return out
	}
	for _, o := range set.OfKind(spec.KindResourceQuota) {
		q := o.(*spec.ResourceQuota)
		out[q.Namespace] = append(out[q.Namespace], q)
	}
	return out
}

// Exceeded is one quota a revision takes past a hard limit: Kubernetes'
// "exceeded quota".
type Exceeded struct {
	Quota spec.ObjectKey
	// Resources are the quota's resources past their limit, sorted.
	Resources []string
	// Requested is what the revision adds, Used what the namespace used
	// before it, Hard the quota's limits, for Resources.
	Requested, Used, Hard Usage
	// Object is the object of the revision that adds the most of the
	// first resource: where the refusal is placed.
	Object spec.ObjectKey
}

// Error words e as Kubernetes does.
func (e *Exceeded) Error() string {
	list := func(u Usage) string {
		parts := make([]string, len(e.Resources))
		for i, r := range e.Resources {
			q := u[r]
			parts[i] = r + "=" + q.String()
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s", e.Quota.Name, list(e.Requested), list(e.Used), list(e.Hard))
}

// Unspecified is an object of the revision whose containers lack a
// request or limit a quota of its namespace limits: Kubernetes refuses
// such pods ("failed quota").
type Unspecified struct {
	Quota  spec.ObjectKey
	Object spec.ObjectKey
	// Missing maps a quota resource ("limits.cpu") to the containers
	// without it.
	Missing map[string][]string
}

// Error words u as Kubernetes does.
func (u *Unspecified) Error() string {
	names := make([]string, 0, len(u.Missing))
	for r := range u.Missing {
		names = append(names, r)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, r := range names {
		parts[i] = r + " for: " + strings.Join(u.Missing[r], ",")
	}
	return fmt.Sprintf("failed quota: %s: must specify %s", u.Quota.Name, strings.Join(parts, "; "))
}

// Check refuses what a revision adds past its namespaces' quotas. before
// is the whole desired state (every application) without the revision,
// after the same with it (the application's previous objects replaced by
// revision's); the quotas are after's. A resource counts as exceeded only
// when the revision raises its usage past the limit: as in Kubernetes, a
// quota lowered below what already runs refuses nothing that runs, only
// what would add to it.
func Check(before, after, revision *spec.Set, opts Options) (exceeded []*Exceeded, unspecified []*Unspecified) {
	quotas := Quotas(after)
	if len(quotas) == 0 {
		return nil, nil
	}
	if revision == nil {
		revision = spec.NewSet()
	}
	beforeOpts := opts
	beforeOpts.Rolling = nil
	used := namespaceUsage(before, beforeOpts, quotas)
	now := namespaceUsage(after, opts, quotas)
	for _, ns := range sortedNamespaces(quotas) {
		for _, q := range quotas[ns] {
			e := &Exceeded{Quota: spec.KeyOf(q), Requested: Usage{}, Used: Usage{}, Hard: Usage{}}
			for _, r := range sortedKeys(q.Spec.Hard) {
				hard, u0, u1 := q.Spec.Hard[r], used[ns][r], now[ns][r]
				if u1.Cmp(hard) <= 0 || u1.Cmp(u0) <= 0 {
					continue
				}
				req := u1.DeepCopy()
				req.Sub(u0)
				e.Resources = append(e.Resources, r)
				e.Requested[r], e.Used[r], e.Hard[r] = req, u0, hard
			}
			if len(e.Resources) > 0 {
				e.Object = largest(revision, ns, e.Resources[0], opts)
				exceeded = append(exceeded, e)
			}
			unspecified = append(unspecified, missing(q, revision, ns)...)
		}
	}
	return exceeded, unspecified
}

// largest is the object of set in ns that uses the most of r.
func largest(set *spec.Set, ns, r string, opts Options) spec.ObjectKey {
	var best spec.ObjectKey
	var most resource.Quantity
	for _, k := range set.Keys() {
		if k.Namespace != ns {
			continue
		}
		q, ok := ObjectUsage(set.Objects[k], opts)[r]
		if ok && (best.Kind == "" || q.Cmp(most) > 0) {
			best, most = k, q
		}
	}
	return best
}

// missing lists the objects of set in ns whose containers lack a request
// or limit q limits.
func missing(q *spec.ResourceQuota, set *spec.Set, ns string) []*Unspecified {
	type need struct{ quota, list, resource string }
	var needs []need
	for _, r := range spec.QuotaComputeResources {
		_, bare := q.Spec.Hard[r]
		if _, ok := q.Spec.Hard["requests."+r]; ok || (bare && (r == spec.ResourceCPU || r == spec.ResourceMemory)) {
			needs = append(needs, need{"requests." + r, "requests", r})
		}
		if _, ok := q.Spec.Hard["limits."+r]; ok {
			needs = append(needs, need{"limits." + r, "limits", r})
		}
	}
	if len(needs) == 0 {
		return nil
	}
	var out []*Unspecified
	for _, k := range set.Keys() {
		o := set.Objects[k]
		if k.Namespace != ns || k.Kind == spec.KindPodTemplate {
			continue
		}
		ps, _ := spec.PodSpecOf(o)
		if ps == nil {
			continue
		}
		u := &Unspecified{Quota: spec.KeyOf(q), Object: k, Missing: map[string][]string{}}
		for _, n := range needs {
			for _, cs := range [][]spec.Container{ps.InitContainers, ps.Containers} {
				for _, c := range cs {
					l := c.Resources.Requests
					if n.list == "limits" {
						l = c.Resources.Limits
					}
					if _, ok := l[n.resource]; !ok {
						u.Missing[n.quota] = append(u.Missing[n.quota], c.Name)
					}
				}
			}
		}
		if len(u.Missing) > 0 {
			out = append(out, u)
		}
	}
	return out
}

func sortedNamespaces(m map[string][]*spec.ResourceQuota) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m spec.ResourceList) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
