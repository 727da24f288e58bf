package spec

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file decides what the decoder says about a field the Go types do not
// have. Three kinds of real Kubernetes fields get something better than
// "unknown field" (kept for typos):
//
//   - dropped: what the API server and controllers write and `kubectl get
//     -o yaml` prints (metadata.uid, resourceVersion, managedFields, status,
//     a taint's timeAdded). Git does not own them, so they are accepted and
//     dropped, as Argo CD and Flux ignore them when they compare;
//   - unsupported: fields of the supported kinds that Stevedore does not
//     implement. They are "not supported by Stevedore", unless their value
//     says nothing: null, {} or [], or the value Kubernetes defaults the
//     field to (`preemptionPolicy: PreemptLowerPriority`, which `kubectl
//     get -o yaml` prints), which asks for no more than leaving the field
//     out does;
//   - everything else is "unknown field", with a suggestion when a known
//     field is one or two letters away.
//
// The lists are keyed by Stevedore's Go type name. TestFieldsMatchKubernetes
// checks them against k8s.io/api's types by reflection: every field of the
// Kubernetes type is implemented, dropped or unsupported, and every name
// listed here is a real field.

// droppedFields are read-only fields, by Go type name, and the YAML node
// kind their value must have.
var droppedFields = map[string]map[string]yaml.Kind{
	"ObjectMeta": {
		"uid": yaml.ScalarNode, "resourceVersion": yaml.ScalarNode, "generation": yaml.ScalarNode,
		"creationTimestamp": yaml.ScalarNode, "deletionTimestamp": yaml.ScalarNode,
		"deletionGracePeriodSeconds": yaml.ScalarNode, "selfLink": yaml.ScalarNode,
		"managedFields": yaml.SequenceNode,
	},
	"Taint":                 {"timeAdded": yaml.ScalarNode},
	"Pod":                   {"status": yaml.MappingNode},
	"Namespace":             {"status": yaml.MappingNode},
	"Node":                  {"status": yaml.MappingNode},
	"ReplicationController": {"status": yaml.MappingNode},
	"Deployment":            {"status": yaml.MappingNode},
	"ReplicaSet":            {"status": yaml.MappingNode},
	"StatefulSet":           {"status": yaml.MappingNode},
	"DaemonSet":             {"status": yaml.MappingNode},
	"Job":                   {"status": yaml.MappingNode},
	"CronJob":               {"status": yaml.MappingNode},
	"Service":               {"status": yaml.MappingNode},
	"PersistentVolumeClaim": {"status": yaml.MappingNode},
	"PersistentVolume":      {"status": yaml.MappingNode},
	"ResourceQuota":         {"status": yaml.MappingNode},
	"ObjectReference":       {"resourceVersion": yaml.ScalarNode},
}

// unsupportedFields are the real Kubernetes (v1.34-1.37) fields of the
// supported types that Stevedore does not implement.
var unsupportedFields = map[string][]string{
	"ObjectMeta": {"generateName", "ownerReferences", "finalizers"},
	"PodSpec": {"ephemeralContainers", "activeDeadlineSeconds",
		"serviceAccount", "automountServiceAccountToken", "hostPID",
		"hostIPC", "shareProcessNamespace", "imagePullSecrets",
		"priorityClassName", "priority", "readinessGates", "runtimeClassName",
		"preemptionPolicy", "overhead", "setHostnameAsFQDN", "os", "hostUsers",
		"schedulingGates", "resourceClaims", "hostAliases", "resources", "hostnameOverride",
		"schedulingGroup", "evictionResponders"},
	"Container":                 {"volumeDevices", "stdin", "stdinOnce", "tty", "resizePolicy", "restartPolicy", "restartPolicyRules"},
	"NodeSpec":                  {"podCIDR", "podCIDRs", "providerID", "configSource", "externalID", "podPreemptionPolicy"},
	"Resources":                 {"claims"},
	"PodAffinityTerm":           {"namespaceSelector", "matchLabelKeys", "mismatchLabelKeys"},
	"TopologySpreadConstraint":  {"nodeAffinityPolicy", "nodeTaintsPolicy", "matchLabelKeys"},
	"ReplicationControllerSpec": {"minReadySeconds"},
	"Lifecycle":                 {"stopSignal"},
	"LifecycleHandler":          {"tcpSocket"},
	"GRPCAction":                {"mode"},
	"HTTPGetAction":             {"protocol"},
	"ServiceSpec": {"externalIPs", "loadBalancerIP", "loadBalancerSourceRanges", "externalName",
		"externalTrafficPolicy", "healthCheckNodePort", "ipFamilies", "ipFamilyPolicy",
		"allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"},
	// Volumes: the sources of cloud and network storage Kubernetes has in
	// tree (a PersistentVolumeClaim of a StorageClass whose driver reaches
	// them is Stevedore's way), and the newer per-file owners.
	"Volume": {"gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
		"rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
		"azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image"},
	"EmptyDirVolumeSource":    {"mode"},
	"KeyToPath":               {"user"},
	"ConfigMapVolumeSource":   {"defaultUser"},
	"SecretVolumeSource":      {"defaultUser"},
	"DownwardAPIVolumeSource": {"defaultUser"},
	"DownwardAPIVolumeFile":   {"user"},
	"ProjectedVolumeSource":   {"defaultUser"},
	"VolumeProjection":        {"serviceAccountToken", "clusterTrustBundle", "podCertificate"},
	"VolumeMount":             {"mountPropagation", "recursiveReadOnly", "bindMountOptions"},
	"EnvVarSource":            {"fileKeyRef"},
	"SecurityContext":         {"seLinuxOptions", "windowsOptions", "procMount", "appArmorProfile"},
	"PodSecurityContext": {"seLinuxOptions", "windowsOptions", "supplementalGroupsPolicy",
		"seLinuxChangePolicy", "appArmorProfile"},
	"ServiceAccount":            {"secrets", "imagePullSecrets"},
	"ResourceQuotaSpec":         {"scopes", "scopeSelector"},
	"ClusterRole":               {"aggregationRule"},
	"PersistentVolumeClaimSpec": {"dataSource", "dataSourceRef", "volumeAttributesClassName"},
	"PersistentVolumeSpec": {"gcePersistentDisk", "awsElasticBlockStore", "nfs", "iscsi", "glusterfs",
		"rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
		"azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos", "volumeAttributesClassName"},
	"CSIPersistentVolumeSource": {"controllerPublishSecretRef", "nodeStageSecretRef", "nodePublishSecretRef",
		"controllerExpandSecretRef", "nodeExpandSecretRef"},
	"ObjectReference": {"fieldPath"},
	// Job: per-index backoff, success policies, pod replacement timing,
	// external controllers and gang scheduling.
	"JobSpec": {"backoffLimitPerIndex", "maxFailedIndexes", "successPolicy", "podReplacementPolicy",
		"managedBy", "scheduling"},
}

// kubernetesDefaults are, for unsupported fields, the value Kubernetes
// gives them when they are left out; written explicitly, it asks for
// nothing more, so it is accepted (and dropped). automountServiceAccountToken
// false is here too: Stevedore mounts no token, so asking for none is met.
// A default in brackets ("[IPv4]") is a list of scalars, matched item by
// item.
var kubernetesDefaults = map[string]map[string]string{
	"PodSpec": {
		"preemptionPolicy": "PreemptLowerPriority", "priority": "0",
		"hostPID": "false", "hostIPC": "false", "shareProcessNamespace": "false",
		"setHostnameAsFQDN": "false", "serviceAccount": "default",
		"automountServiceAccountToken": "false",
	},
	"Container": {
		"stdin": "false", "stdinOnce": "false", "tty": "false",
	},
	"ReplicationControllerSpec": {"minReadySeconds": "0"},
	"VolumeMount":               {"mountPropagation": "None", "recursiveReadOnly": "Disabled"},
	"SecurityContext":           {"procMount": "Default"},
	// What `kubectl get job -o yaml` prints for a Job without a
	// podFailurePolicy: a failed pod is replaced once it is terminating or
	// failed, which is what Stevedore does.
	"JobSpec": {"podReplacementPolicy": "TerminatingOrFailed"},
	// What `kubectl get service -o yaml` prints for a single-stack IPv4
	// ClusterIP or NodePort Service: Stevedore's only kind.
	"ServiceSpec": {
		"ipFamilyPolicy": "SingleStack", "ipFamilies": "[IPv4]", "internalTrafficPolicy": "Cluster",
		"externalTrafficPolicy": "Cluster", "healthCheckNodePort": "0",
	},
}

// accepted reports whether the field name, which t does not have, is a
// real Kubernetes field to drop silently: a read-only one (after checking
// the shape of its value) or an unsupported one whose value says nothing.
func (w *walker) accepted(t reflect.Type, p fieldPath, name string, val *yaml.Node) bool {
	if val.Kind == yaml.AliasNode && val.Alias != nil {
		val = val.Alias
	}
	if kind, ok := droppedFields[tableName(t)][name]; ok {
		if !isNull(val) && val.Kind != kind {
			w.mismatch(val, p.child(name), "expected %s, got %s", kindName(kind), nodeKindName(val))
		}
		return true
	}
	if !slices.Contains(unsupportedFields[tableName(t)], name) {
		return false
	}
	def, hasDef := kubernetesDefaults[tableName(t)][name]
	switch {
	case isNull(val):
		return true
	case (val.Kind == yaml.MappingNode || val.Kind == yaml.SequenceNode) && len(val.Content) == 0:
		return true
	case val.Kind == yaml.SequenceNode:
		return hasDef && sequenceEquals(val, def)
	case val.Kind == yaml.ScalarNode:
		return hasDef && scalarEquals(val, def)
	}
	return false
}

// isListDefault reports whether a default is a list ("[IPv4]").
func isListDefault(def string) bool {
	return strings.HasPrefix(def, "[") && strings.HasSuffix(def, "]")
}

// sequenceEquals compares a list with a list default ("[IPv4]", "[a, b]"),
// item by item, each as scalarEquals does.
func sequenceEquals(n *yaml.Node, def string) bool {
	if !isListDefault(def) {
		return false
	}
	want := strings.Split(def[1:len(def)-1], ",")
	if len(n.Content) != len(want) {
		return false
	}
	for i, it := range n.Content {
		if it.Kind == yaml.AliasNode && it.Alias != nil {
			it = it.Alias
		}
		if it.Kind != yaml.ScalarNode || !scalarEquals(it, strings.TrimSpace(want[i])) {
			return false
		}
	}
	return true
}

// scalarEquals compares a scalar with a default written as YAML would
// print it, reading booleans and integers by value ("False", "00").
func scalarEquals(n *yaml.Node, want string) bool {
	switch want {
	case "true", "false":
		var b bool
		if n.ShortTag() == "!!bool" && n.Decode(&b) == nil {
			return fmt.Sprint(b) == want
		}
		if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
			return fmt.Sprint(b) == want
		}
		return false
	case "0":
		var i int64
		return n.ShortTag() == "!!int" && n.Decode(&i) == nil && i == 0
	}
	return n.ShortTag() == "!!str" && n.Value == want
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// DroppedFields returns, sorted, the read-only Kubernetes fields of spec's
// Go type typeName ("ObjectMeta") that the decoder accepts and drops.
func DroppedFields(typeName string) []string {
	var out []string
	for f := range droppedFields[typeName] {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// KubernetesDefaults returns the unsupported fields of spec's Go type
// typeName that load when set to Kubernetes' default, with that default as
// YAML writes it ("SingleStack", "false", "[IPv4]" for a list); nil when
// there are none.
func KubernetesDefaults(typeName string) map[string]string {
	if len(kubernetesDefaults[typeName]) == 0 {
		return nil
	}
	out := make(map[string]string, len(kubernetesDefaults[typeName]))
	for f, v := range kubernetesDefaults[typeName] {
		out[f] = v
	}
	return out
}

// misplacedFields are fields people write on a kind that does not have
// them, usually carried over from a Deployment, by Go type name, with what
// to say instead of "unknown field".
var misplacedFields = map[string]map[string]string{
	"DaemonSetSpec": {
		"replicas": "field not supported by a DaemonSet: it runs one pod on every eligible node; choose the nodes with the template's nodeSelector, affinity and tolerations (or use a Deployment for a number of replicas)",
		"strategy": "unknown field: a DaemonSet's is updateStrategy",
	},
	"StatefulSetSpec": {"strategy": "unknown field: a StatefulSet's is updateStrategy"},
	"DeploymentSpec":  {"updateStrategy": "unknown field: a Deployment's is strategy"},
}

func unknownFieldMessage(t reflect.Type, name string, fields map[string]fieldInfo, val *yaml.Node) string {
	if msg, ok := misplacedFields[tableName(t)][name]; ok {
		return msg
	}
	if slices.Contains(unsupportedFields[tableName(t)], name) {
		if def, ok := kubernetesDefaults[tableName(t)][name]; ok && ((val.Kind == yaml.ScalarNode && !isListDefault(def)) || (val.Kind == yaml.SequenceNode && isListDefault(def))) {
			return fmt.Sprintf("field not supported by Stevedore (only Kubernetes' default, %s, is accepted)", def)
		}
		return "field not supported by Stevedore"
	}
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f)); d < bestD {
			best, bestD = f, d
		}
	}
	if best != "" && bestD <= len(name)/3 {
		return fmt.Sprintf("unknown field (did you mean %q?)", best)
	}
	return "unknown field"
}
