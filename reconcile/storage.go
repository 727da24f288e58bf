package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// This file holds what the plan reads of the desired set's storage and
// configuration objects (the catalog) and what a pod spec refers to.

// Provisioners that ship with the agent (h-drivers): the two local ones
// keep a volume on one node; sshfs is a network driver. Any other
// provisioner is an out-of-process driver, node-local when its class says
// so with NodeLocalParameter.
const (
	ProvisionerLocalDir   = spec.LocalDirProvisioner
	ProvisionerLocalBlock = "stevedore.dev/local-block"
	ProvisionerSSHFS      = "stevedore.dev/sshfs"
	// NoProvisioner is Kubernetes' name for a class whose volumes are
	// all declared (static local volumes): nothing is provisioned.
	NoProvisioner = "kubernetes.io/no-provisioner"
	// NodeLocalParameter "true" in a StorageClass's parameters makes an
	// out-of-process driver's volumes node-local.
	NodeLocalParameter = "stevedore.dev/node-local"
)

// BuiltinStorageClassName is the class a repository that declares no
// StorageClass gets as its default: node-local directories, made where
// the first pod using the claim is placed.
const BuiltinStorageClassName = spec.BuiltinStorageClassName

// classNodeLocal reports whether a class's volumes live on one node.
func classNodeLocal(c *spec.StorageClass) bool {
	switch c.Provisioner {
	case ProvisionerLocalDir, ProvisionerLocalBlock:
		return true
	case ProvisionerSSHFS:
		return false
	}
	return c.Parameters[NodeLocalParameter] == "true"
}

func classWFFC(c *spec.StorageClass) bool {
	return c.VolumeBindingMode != nil && *c.VolumeBindingMode == spec.VolumeBindingWaitForFirstConsumer
}

func classReclaim(c *spec.StorageClass) string {
	if c.ReclaimPolicy != nil && *c.ReclaimPolicy != "" {
		return *c.ReclaimPolicy
	}
	return spec.ReclaimDelete
}

// catalog is the desired set's storage and configuration objects.
type catalog struct {
	classes map[string]*spec.StorageClass
	// def is the default class's name, "" when there is none.
	def string
	// pvs are the volumes declared in Git, by name; pvNames sorted.
	pvs     map[string]*spec.PersistentVolume
	pvNames []string
	// claims by "namespace/name"; claimKeys sorted.
	claims    map[string]*spec.PersistentVolumeClaim
	claimKeys []string
	// owners are the StatefulSets that made claims, by claim key
	// (statefulset_claims.go).
	owners map[string]string
	// config holds the ConfigMaps and Secrets by ref key
	// ("ConfigMap/ns/name").
	config map[string]spec.Object
	// configObjs caches configObject.
	configObjs map[string]*api.ConfigObject
}

func newCatalog(set *spec.Set) *catalog {
	c := &catalog{classes: map[string]*spec.StorageClass{}, pvs: map[string]*spec.PersistentVolume{},
		claims: map[string]*spec.PersistentVolumeClaim{}, config: map[string]spec.Object{}, owners: map[string]string{}}
	if set == nil {
		return c
	}
	for k, o := range set.Objects {
		ns := k.Namespace
		if ns == "" {
			ns = spec.DefaultNamespace
		}
		switch o := o.(type) {
		case *spec.PersistentVolume:
			c.pvs[o.Name] = o
		case *spec.PersistentVolumeClaim:
			c.claims[ns+"/"+o.Name] = o
		case *spec.ConfigMap:
			c.config[refKey(spec.KindConfigMap, ns, o.Name)] = o
		case *spec.Secret:
			c.config[refKey(spec.KindSecret, ns, o.Name)] = o
		}
	}
	// The repository's classes, and the built-in default unless it
	// declares a default of its own (spec.Set.StorageClasses).
	c.classes = set.StorageClasses()
	// Several defaults: the first by name, so that it does not depend on
	// map order (Kubernetes takes the newest).
	for _, name := range sortedKeys(c.classes) {
		if c.classes[name].Annotations[spec.DefaultStorageClassAnnotation] == "true" {
			c.def = name
			break
		}
	}
	c.pvNames = sortedKeys(c.pvs)
	c.claimKeys = sortedKeys(c.claims)
	slices.SortFunc(c.claimKeys, comparePodKeys)
	return c
}

// refKey is a pod's reference to an object: "Kind/namespace/name".
func refKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// claimRef is the ref key of a claim.
func claimRef(ns, name string) string { return refKey(spec.KindPersistentVolumeClaim, ns, name) }

// refClaim returns the "namespace/name" of a claim ref, or false.
func refClaim(ref string) (string, bool) {
	return strings.CutPrefix(ref, spec.KindPersistentVolumeClaim+"/")
}

// podRefs returns the objects a pod spec in namespace ns refers to: the
// ConfigMaps and Secrets of its env (valueFrom, envFrom) and volumes
// (configMap, secret, projected), and its claims, as sorted ref keys.
func podRefs(ns string, ps *spec.PodSpec) []string {
	var out []string
	for _, k := range spec.ConfigRefs(ns, ps) {
		out = append(out, refKey(k.Kind, k.Namespace, k.Name))
	}
	for _, c := range spec.ClaimNames(ps) {
		out = append(out, claimRef(ns, c))
	}
	sort.Strings(out)
	return out
}

// claimsOf returns the claims ("namespace/name") a pod spec mounts, in
// the order of its volumes.
func claimsOf(ns string, ps *spec.PodSpec) []spec.PersistentVolumeClaimVolumeSource {
	var out []spec.PersistentVolumeClaimVolumeSource
	for _, v := range ps.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != "" {
			out = append(out, *v.PersistentVolumeClaim)
		}
	}
	return out
}

// ConfigObjectOf is a ConfigMap or Secret as a pod set carries it, its
// Version a hash of its kind, type and data; nil for another kind.
func ConfigObjectOf(ns string, o spec.Object) *api.ConfigObject {
	var c api.ConfigObject
	switch o := o.(type) {
	case *spec.ConfigMap:
		c = api.ConfigObject{Kind: spec.KindConfigMap, Namespace: ns, Name: o.Name}
		if n := len(o.Data) + len(o.BinaryData); n > 0 {
			c.Data = make(map[string][]byte, n)
			for k, v := range o.Data {
				c.Data[k] = []byte(v)
			}
			maps.Copy(c.Data, o.BinaryData)
		}
	case *spec.Secret:
		c = api.ConfigObject{Kind: spec.KindSecret, Namespace: ns, Name: o.Name, Type: o.Type}
		if c.Type == "" {
			c.Type = spec.SecretTypeOpaque
		}
		if n := len(o.Data) + len(o.StringData); n > 0 {
			c.Data = make(map[string][]byte, n)
			maps.Copy(c.Data, o.Data)
			for k, v := range o.StringData {
				c.Data[k] = []byte(v)
			}
		}
	default:
		return nil
	}
	h := sha256.New()
	h.Write([]byte(c.Kind + "\x00" + c.Type + "\x00"))
	for _, k := range sortedKeys(c.Data) {
		v := c.Data[k]
		h.Write([]byte(k))
		h.Write([]byte{0})
		var n [8]byte
		for i := range n {
			n[i] = byte(len(v) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(v)
	}
	c.Version = hex.EncodeToString(h.Sum(nil)[:8])
	return &c
}

// storageBytes is a ResourceList's storage in bytes, 0 when absent.
func storageBytes(l spec.ResourceList) int64 {
	q, ok := l["storage"]
	if !ok {
		return 0
	}
	return q.Value()
}
