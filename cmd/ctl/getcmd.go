package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// getOptions are ctl get's flags.
type getOptions struct {
	namespace     string
	all           bool
	output        string
	selector      string
	fieldSelector string
	sortBy        string
	watch         bool
	watchOnly     bool
	watchEvents   bool
	// forObject is --for KIND/NAME: events about one object.
	forObject string
	// chunkSize is --chunk-size: pods are listed in pages of this many
	// (0: in one answer), as kubectl's flag (get_pages.go).
	chunkSize int64
}

// Resource types ctl get knows; "deployments" lists ReplicationControllers
// too (as rc/NAME), as it always has.
const (
	resPods        = "pods"
	resWorkloads   = "deployments"
	resDeployOnly  = "deployments.apps" // get all's section: Deployments alone
	resRCs         = "replicationcontrollers"
	resNodes       = "nodes"
	resNamespaces  = "namespaces"
	resEvents      = "events"
	resApps        = "applications"
	resourcesUsage = "pods, services, endpoints, deployments, replicationcontrollers, statefulsets, replicasets, daemonsets, jobs, cronjobs, nodes, namespaces, events, applications, configmaps, secrets, persistentvolumeclaims, persistentvolumes, storageclasses, resourcequotas, limitranges or all"
)

// resources maps kubectl's names, abbreviations and comma-separated lists
// to ctl's resource types.
func resources(arg string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(arg, ",") {
		switch strings.ToLower(s) {
		case "pod", "pods", "po":
			out = append(out, resPods)
		case "service", "services", "svc":
			out = append(out, resServices)
		case "endpoints", "ep":
			out = append(out, resEndpoints)
		case "deployment", "deployments", "deploy", "workloads", "deployment.apps", "deployments.apps":
			out = append(out, resWorkloads)
		case "replicationcontroller", "replicationcontrollers", "rc":
			out = append(out, resRCs)
		case "node", "nodes", "no":
			out = append(out, resNodes)
		case "namespace", "namespaces", "ns":
			out = append(out, resNamespaces)
		case "event", "events", "ev":
			out = append(out, resEvents)
		case "application", "applications", "app", "apps":
			out = append(out, resApps)
		case "all":
			out = append(out, resPods, resServices, resDaemonSets, resDeployOnly, resRCs, resReplicaSets, resStatefulSets)
		default:
			if res := jobResource(strings.ToLower(s)); res != "" {
				out = append(out, res)
				continue
			}
			if res := storageResource(strings.ToLower(s)); res != "" {
				out = append(out, res)
				continue
			}
			if res := quotaResource(strings.ToLower(s)); res != "" {
				out = append(out, res)
				continue
			}
			if res := appsResource(strings.ToLower(s)); res != "" {
				out = append(out, res)
				continue
			}
			return nil, usageErr("unknown resource %q: want %s", s, resourcesUsage)
		}
	}
	return out, nil
}

func (c *cli) getCmd() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...]",
		Short: "List pods, services, deployments, replication controllers, nodes, namespaces, events, ConfigMaps, Secrets, claims, volumes or storage classes (or all) as tables or Kubernetes objects, or watch them change",
		Example: `  ctl get pods                              # pods in namespace default
  ctl get pods -n shop -o wide              # with owner and UID
  ctl get deployments -A                    # every namespace
  ctl get pod web-0 -n shop -o yaml         # one Kubernetes-shaped Pod
  ctl get pods -A -o json | jq '.items[].status.podIP'
  ctl get pods -l app=web --field-selector status.phase=Running
  ctl get pods -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName --sort-by=.spec.nodeName
  ctl get pods -o jsonpath='{.items[*].metadata.name}'
  ctl get all -n shop
  ctl get pvc -n shop                       # claims: status, volume, capacity
  ctl get secrets -n shop -o yaml           # keys only: values are never shown
  ctl get pods -n shop -w                   # print rows as they change
  ctl get events -n shop --for deployment/web   # a Deployment's and its pods' events
  ctl get events -A -w                      # follow every namespace's events`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("get takes a resource type: %s", resourcesUsage)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return c.runGet(cmd.Context(), args, o) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.namespace, "namespace", "n", "", "namespace (default \"default\")")
	fl.BoolVarP(&o.all, "all-namespaces", "A", false, "list every namespace")
	fl.StringVarP(&o.output, "output", "o", "", "output format: wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,...")
	fl.StringVarP(&o.selector, "selector", "l", "", "label selector, kubectl's syntax (app=web,tier!=db, 'env in (a,b)', !canary)")
	fl.StringVar(&o.fieldSelector, "field-selector", "", "field selector (metadata.name, metadata.namespace, spec.nodeName, status.phase, ...): field=value,field!=value")
	fl.StringVar(&o.sortBy, "sort-by", "", "sort by a JSONPath expression on the Kubernetes-shaped object (.metadata.name, .status.startTime)")
	fl.BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes (a stream from the reconciler)")
	fl.BoolVar(&o.watchOnly, "watch-only", false, "watch for changes without listing first")
	fl.BoolVar(&o.watchEvents, "output-watch-events", false, "with --watch and -o json|yaml, print watch events {type, object}")
	fl.Int64Var(&o.chunkSize, "chunk-size", defaultChunkSize, "list pods in pages of this many, printing a table as each page arrives (0: in one answer)")
	fl.StringVar(&o.forObject, "for", "", "with events: only those about this object, KIND/NAME (pod/web-0; deployment/web includes its pods')")
	return cmd
}

func (c *cli) runGet(ctx context.Context, args []string, o getOptions) error {
	if isTokenResource(args[0]) { // tokens.go
		return c.getTokens(ctx, o.output)
	}
	f, err := parseOutput(o.output)
	if err != nil {
		return err
	}
	kinds, err := resources(args[0])
	if err != nil {
		return err
	}
	if o.chunkSize < 0 {
		return usageErr("--chunk-size must be 0 (no paging) or more, not %d", o.chunkSize)
	}
	names := args[1:]
	if len(names) > 0 && len(kinds) > 1 {
		return usageErr("names cannot be given with several resource types")
	}
	ns := o.namespace
	if o.all {
		ns = ""
	} else if ns == "" {
		ns = spec.DefaultNamespace
	}
	var about string
	if o.forObject != "" {
		if len(kinds) != 1 || kinds[0] != resEvents {
			return usageErr("--for is a filter of events: ctl get events --for KIND/NAME")
		}
		forNS := o.namespace
		if forNS == "" {
			forNS = spec.DefaultNamespace
		}
		if about, err = eventsFor(o.forObject, forNS); err != nil {
			return err
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if o.watch || o.watchOnly {
		if err := checkFieldSelector(kindOf(kinds[0]), o.fieldSelector); err != nil {
			return err
		}
		if len(kinds) != 1 || kinds[0] == resNamespaces || kinds[0] == resApps || storageKinds[kinds[0]] != "" || quotaKinds[kinds[0]] != "" || jobKinds[kinds[0]] != "" {
			return usageErr("--watch takes one resource type: pods, services, endpoints, deployments, replicationcontrollers, statefulsets, replicasets, daemonsets, nodes or events")
		}
		return c.watchGet(ctx, cl, kinds[0], ns, names, f, o, about)
	}
	for _, k := range kinds {
		if err := checkFieldSelector(kindOf(k), o.fieldSelector); err != nil {
			return err
		}
	}
	rctx, cancel := c.requestCtx(ctx)
	defer cancel()
	fe := &fetcher{cl: cl, ns: ns, about: about, needKube: f.structured() || o.sortBy != "", needDecls: f.structured() || o.sortBy != "" || o.selector != "", warn: c.errOut,
		podFilter: serverPodFilter(o.selector, o.fieldSelector), chunkSize: o.chunkSize}
	if streamsPods(kinds, names, f, o) {
		return c.printPodPages(rctx, fe, o, f) // get_pages.go
	}
	var sections [][]*item
	for _, k := range kinds {
		items, err := fe.fetch(rctx, k)
		if err != nil {
			return &exitErr{code: exitError, err: err}
		}
		if items, err = selectNames(items, k, names); err != nil {
			return err
		}
		if items, err = filterItems(items, o.selector, o.fieldSelector); err != nil {
			return err
		}
		if o.sortBy != "" {
			if err := sortItems(items, o.sortBy); err != nil {
				return err
			}
		}
		sections = append(sections, items)
	}
	if f.kind != outTable && f.kind != outWide {
		var all []*item
		for _, s := range sections {
			all = append(all, s...)
		}
		return writeStructured(c.out, f, all, len(names) == 1)
	}
	c.printSections(kinds, sections, tableOpts{withNS: o.all, wide: f.kind == outWide, prefix: len(kinds) > 1, rcAlias: len(kinds) == 1 && kinds[0] == resWorkloads}, ns)
	return nil
}

// printSections prints one table per resource type, separated by blank
// lines as kubectl get all does.
func (c *cli) printSections(kinds []string, sections [][]*item, o tableOpts, ns string) {
	if len(kinds) == 1 {
		o.nodeErrors = anyNodeError(sections[0])
		printTable(c.out, kindOf(kinds[0]), sections[0], o)
		return
	}
	printed := false
	for i, items := range sections {
		if len(items) == 0 {
			continue
		}
		if printed {
			fmt.Fprintln(c.out)
		}
		printTable(c.out, kindOf(kinds[i]), items, o)
		printed = true
	}
	if !printed {
		if ns == "" {
			fmt.Fprintln(c.out, "No resources found.")
		} else {
			fmt.Fprintf(c.out, "No resources found in %s namespace.\n", ns)
		}
	}
}

func anyNodeError(items []*item) bool {
	for _, it := range items {
		if n, ok := it.wire.(api.Node); ok && n.Error != "" {
			return true
		}
	}
	return false
}

// kindOf is the Kubernetes kind a resource type's table shows.
func kindOf(res string) string {
	switch res {
	case resPods:
		return spec.KindPod
	case resRCs:
		return spec.KindReplicationController
	case resNodes:
		return spec.KindNode
	case resNamespaces:
		return spec.KindNamespace
	case resEvents:
		return kindEvent
	case resApps:
		return kindApplication
	case resServices:
		return spec.KindService
	case resEndpoints:
		return kindEndpoints
	case resDaemonSets:
		return spec.KindDaemonSet
	}
	if k := storageKinds[res]; k != "" {
		return k
	}
	if k := quotaKinds[res]; k != "" {
		return k
	}
	if k := appsKinds[res]; k != "" {
		return k
	}
	if k := jobKinds[res]; k != "" {
		return k
	}
	return spec.KindDeployment
}

// selectNames keeps the named items, in the order named; a name not found
// is kubectl's NotFound error (exit 1).
func selectNames(items []*item, res string, names []string) ([]*item, error) {
	if len(names) == 0 {
		return items, nil
	}
	byName := map[string]*item{}
	for _, it := range items {
		if _, dup := byName[it.name]; !dup {
			byName[it.name] = it
		}
	}
	var out []*item
	var missing []string
	for _, n := range names {
		if it, ok := byName[n]; ok {
			out = append(out, it)
		} else {
			missing = append(missing, fmt.Sprintf("%s %q not found", res, n))
		}
	}
	if len(missing) > 0 {
		return nil, &exitErr{code: exitChanges, err: fmt.Errorf("%s", strings.Join(missing, "; "))}
	}
	return out, nil
}

// fetcher reads the lists a get needs, each once.
type fetcher struct {
	cl *api.Client
	ns string
	// about is the object events are asked about (--for), "" for any.
	about string
	// needKube: the Kubernetes shapes will be printed (pods need their
	// nodes' addresses); needDecls: the applied revision's objects too
	// (labels and specs of deployments and namespaces).
	needKube, needDecls bool
	warn                io.Writer
	// podFilter is what of -l and --field-selector the reconciler applies
	// to the pod list (serverPodFilter); the list is filtered here again.
	podFilter api.ListFilter
	// chunkSize is the pods of one page (0: all in one answer).
	chunkSize int64

	workloads []api.Workload
	wlDone    bool
	set       *spec.Set
	setDone   bool
	hosts     map[string]string
	hostsAt   time.Time
}

// hostsTTL is how long a watch reuses the node addresses it read.
const hostsTTL = 5 * time.Second

func (fe *fetcher) fetch(ctx context.Context, res string) ([]*item, error) {
	switch res {
	case resPods:
		pf := fe.podFilter
		pf.Namespace = fe.ns
		pods, err := fe.cl.PodsAll(ctx, pf, fe.chunkSize)
		if err != nil {
			return nil, err
		}
		var hosts map[string]string
		if fe.needKube {
			hosts = fe.hostIPs(ctx)
		}
		items := make([]*item, len(pods))
		for i, p := range pods {
			items[i] = podItem(p, hosts)
		}
		return items, nil
	case resWorkloads, resDeployOnly, resRCs, resStatefulSets, resReplicaSets, resDaemonSets:
		if !fe.wlDone {
			wl, err := fe.cl.Deployments(ctx, fe.ns)
			if err != nil {
				return nil, err
			}
			fe.workloads, fe.wlDone = wl, true
		}
		set := fe.decls(ctx)
		var items []*item
		for _, w := range fe.workloads {
			if !workloadOfResource(res, w.Kind) {
				continue
			}
			items = append(items, workloadItem(w, set))
		}
		return items, nil
	case resServices:
		svcs, err := fe.cl.Services(ctx, fe.ns)
		if err != nil {
			return nil, err
		}
		items := make([]*item, len(svcs))
		for i, s := range svcs {
			items[i] = serviceItem(s)
		}
		return items, nil
	case resEndpoints:
		eps, err := fe.cl.Endpoints(ctx, fe.ns)
		if err != nil {
			return nil, err
		}
		items := make([]*item, len(eps))
		for i, e := range eps {
			items[i] = endpointsItem(e)
		}
		return items, nil
	case resNodes:
		nodes, err := fe.cl.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		items := make([]*item, len(nodes))
		for i, n := range nodes {
			items[i] = nodeItem(n)
		}
		return items, nil
	case resApps:
		apps, err := fe.cl.Applications(ctx)
		if err != nil {
			return nil, err
		}
		items := make([]*item, len(apps))
		for i, a := range apps {
			items[i] = &item{kind: kindApplication, name: a.Name, wire: a, kube: appObject(a), fields: fields.Set{"metadata.name": a.Name}}
		}
		return items, nil
	case resEvents:
		evs, err := fe.cl.EventsIn(ctx, fe.ns, fe.about)
		if err != nil {
			return nil, err
		}
		var items []*item
		for _, e := range evs {
			// Filtered here too: a reconciler before the filters sends all.
			if api.EventMatches(&e, fe.ns, fe.about) {
				items = append(items, eventItem(e))
			}
		}
		sortEventItems(items)
		return items, nil
	case resNamespaces:
		nss, err := fe.cl.Namespaces(ctx)
		if err != nil {
			return nil, err
		}
		set := fe.decls(ctx)
		items := make([]*item, len(nss))
		for i, n := range nss {
			items[i] = namespaceItem(n, set)
		}
		return items, nil
	case resConfigMaps, resSecrets, resClaims, resVolumes, resStorageClasses:
		return fe.fetchStorage(ctx, res)
	case resJobs, resCronJobs:
		return fe.fetchJobs(ctx, res)
	case resQuotas, resLimitRanges:
		return fe.fetchQuotas(ctx, res)
	}
	return nil, fmt.Errorf("unknown resource %q", res)
}

// hostIPs maps node names to their addresses, for pods' status.hostIP; a
// failure leaves hostIP out.
func (fe *fetcher) hostIPs(ctx context.Context) map[string]string {
	if fe.hosts != nil && time.Since(fe.hostsAt) < hostsTTL {
		return fe.hosts
	}
	rctx, cancel := context.WithTimeout(ctx, hostsTTL)
	defer cancel()
	nodes, err := fe.cl.Nodes(rctx)
	if err != nil {
		return fe.hosts
	}
	m := make(map[string]string, len(nodes))
	for _, n := range nodes {
		if n.Addr != "" {
			m[n.Name] = hostIP(n.Addr)
		}
	}
	fe.hosts, fe.hostsAt = m, time.Now()
	return m
}

// decls loads the applied revision, whose objects hold what the
// reconciler's lists do not (a Deployment's spec, labels, annotations).
// A failure is a warning: the objects are printed with what is known.
func (fe *fetcher) decls(ctx context.Context) *spec.Set {
	if !fe.needDecls || fe.setDone {
		return fe.set
	}
	fe.setDone = true
	rev, err := fe.cl.Revision(ctx)
	if err == nil {
		// Encrypted Secrets load with empty values: ctl holds no key.
		fe.set, err = render.Loader{Decrypt: sops.WithoutKeys{}}.Load(rev.Files)
	}
	if err != nil {
		fmt.Fprintf(fe.warn, "warning: failed to load the applied revision, printing without its specs and labels: %v\n", err)
	}
	return fe.set
}

func podItem(p api.Pod, hosts map[string]string) *item {
	it := &item{kind: spec.KindPod, namespace: p.Namespace, name: p.Name, labels: p.Labels, wire: p}
	k := kubePod(p, hosts)
	it.kube = k
	it.fields = fields.Set{
		"metadata.name": p.Name, "metadata.namespace": p.Namespace,
		"spec.nodeName": k.Spec.NodeName, "spec.restartPolicy": k.Spec.RestartPolicy, "spec.schedulerName": k.Spec.SchedulerName,
		"status.phase": k.Status.Phase, "status.podIP": k.Status.PodIP,
	}
	return it
}

func workloadItem(w api.Workload, set *spec.Set) *item {
	var decl spec.Object
	if set != nil {
		decl = set.Objects[spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}]
	}
	it := &item{kind: w.Kind, namespace: w.Namespace, name: w.Name, wire: w, kube: kubeWorkload(w, decl)}
	if decl != nil {
		it.labels = decl.GetObjectMeta().Labels
	}
	it.fields = fields.Set{"metadata.name": w.Name, "metadata.namespace": w.Namespace}
	return it
}

func nodeItem(n api.Node) *item {
	k := kubeNode(n)
	it := &item{kind: spec.KindNode, name: n.Name, labels: n.Labels, wire: n, kube: k}
	it.fields = fields.Set{"metadata.name": n.Name, "spec.unschedulable": fmt.Sprint(k.Spec.Unschedulable)}
	return it
}

// kindApplication is the kind of Stevedore's applications, appAPIVersion
// their apiVersion (see apps.go).
const (
	kindApplication = "Application"
	appAPIVersion   = "stevedore.dev/v1alpha1"
)

func namespaceItem(n api.Namespace, set *spec.Set) *item {
	var decl *spec.Namespace
	if set != nil {
		decl, _ = set.Objects[spec.ObjectKey{Kind: spec.KindNamespace, Name: n.Name}].(*spec.Namespace)
	}
	k := kubeNamespace(n, decl)
	it := &item{kind: spec.KindNamespace, name: n.Name, labels: k.Metadata.Labels, wire: n, kube: k}
	it.fields = fields.Set{"metadata.name": n.Name, "status.phase": n.Status}
	return it
}

// serverFields are the pod fields the reconciler selects by
// (api.QueryFieldSelector).
var serverFields = []string{"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}

// serverPodFilter returns the part of -l and --field-selector the
// reconciler can apply to a pod list, so that 10,000 pods are not sent to
// be dropped here: the label selector, and the field selector when it
// names only fields the reconciler knows (ctl knows more, on the
// Kubernetes-shaped pod). ctl filters the answer again with both, so a
// reconciler that ignores them (an older one) lists the same pods.
func serverPodFilter(selector, fieldSelector string) api.ListFilter {
	f := api.ListFilter{LabelSelector: selector}
	if fieldSelector == "" {
		return f
	}
	fs, err := fields.ParseSelector(fieldSelector)
	if err != nil {
		return f
	}
	for _, r := range fs.Requirements() {
		if !slices.Contains(serverFields, r.Field) {
			return f
		}
	}
	f.FieldSelector = fieldSelector
	return f
}
