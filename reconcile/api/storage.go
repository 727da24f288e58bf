package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// ConfigMaps, Secrets, PersistentVolumeClaims, PersistentVolumes and
// StorageClasses travel in Stevedore's own shapes (ctl builds Kubernetes'
// for -o json|yaml): what the leader decided about a claim or a volume
// (why a claim is Pending, which pods use it, the node holding its data) has
// no field in Kubernetes' objects, and a Secret must never travel with its
// values, which Kubernetes' Secret always carries.

// Paths of configuration and storage objects.
const (
	// PathConfigMaps: GET ?namespace= → ConfigMapList.
	PathConfigMaps = "/v1/configmaps"
	// PathSecrets: GET ?namespace= → SecretList: names, types, keys and
	// their sizes; never a value.
	PathSecrets = "/v1/secrets"
	// PathClaims: GET ?namespace= → ClaimList.
	PathClaims = "/v1/persistentvolumeclaims"
	// PathClaim: GET → Claim (ClaimPath builds it).
	PathClaim = "/v1/persistentvolumeclaims/{namespace}/{name}"
	// PathVolumes: GET → VolumeList (cluster-scoped).
	PathVolumes = "/v1/persistentvolumes"
	// PathStorageClasses: GET → StorageClassList (cluster-scoped).
	PathStorageClasses = "/v1/storageclasses"
)

// ClaimPath is the path of one PersistentVolumeClaim.
func ClaimPath(namespace, name string) string {
	return PathClaims + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// ConfigMap is a committed ConfigMap. Data is carried whole (a ConfigMap
// is not secret); BinaryData only as sizes, to keep lists small.
type ConfigMap struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
	// BinaryData is the size in bytes of each binaryData key.
	BinaryData map[string]int `json:"binaryData,omitempty"`
	Immutable  bool           `json:"immutable,omitempty"`
	// Source is the file and line that declare it.
	Source *spec.Source `json:"source,omitempty"`
}

// ConfigMapList is the answer to GET /v1/configmaps, sorted by namespace
// and name.
type ConfigMapList struct {
	ConfigMaps []ConfigMap `json:"configMaps"`
}

// Secret is a committed Secret without its values: the reconciler never
// sends one (nor the kubectl.kubernetes.io/last-applied-configuration
// annotation, which can hold a copy of them).
type Secret struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Type is the Secret's type (Opaque when the manifest gives none).
	Type string `json:"type"`
	// Keys are its data keys (stringData's merged in), sorted by name.
	Keys      []SecretKey `json:"keys"`
	Immutable bool        `json:"immutable,omitempty"`
	// Source is the file and line that declare it.
	Source *spec.Source `json:"source,omitempty"`
}

// SecretKey is one key of a Secret and the size of its value in bytes.
type SecretKey struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// SecretList is the answer to GET /v1/secrets, sorted by namespace and
// name.
type SecretList struct {
	Secrets []Secret `json:"secrets"`
}

// Claim is a PersistentVolumeClaim and what became of it
// (reconcile.ClaimView), with the committed object's metadata and spec.
type Claim struct {
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Phase is Pending, Bound or Lost; Reason and Message say why a claim
	// is Pending.
	Phase   string `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Volume is the bound PersistentVolume's name.
	Volume string `json:"volume,omitempty"`
	// Requested is spec.resources.requests.storage in bytes; Capacity the
	// bound volume's (0 while unbound).
	Requested   int64    `json:"requested"`
	Capacity    int64    `json:"capacity,omitempty"`
	AccessModes []string `json:"accessModes,omitempty"`
	// StorageClass is the class it is provisioned from (the default
	// class's name when the manifest names none).
	StorageClass string `json:"storageClass,omitempty"`
	// Node is where a node-local volume lives; empty for a network one.
	Node string `json:"node,omitempty"`
	// UsedBy are the pods ("namespace/name") that mount it.
	UsedBy []string `json:"usedBy,omitempty"`
	// Owner is the StatefulSet whose volumeClaimTemplates made the claim
	// ("StatefulSet/ns/name"), empty for a claim declared in Git.
	Owner   string    `json:"owner,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// Spec is the committed spec, when the reconciler has the object.
	Spec   *spec.PersistentVolumeClaimSpec `json:"spec,omitempty"`
	Source *spec.Source                    `json:"source,omitempty"`
}

// ClaimList is the answer to GET /v1/persistentvolumeclaims, sorted by
// namespace and name.
type ClaimList struct {
	Claims []Claim `json:"claims"`
}

// Volume is a PersistentVolume, declared in Git or provisioned
// (reconcile.VolumeView).
type Volume struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Phase is Available, Bound, Released or Failed.
	Phase         string   `json:"phase"`
	Reason        string   `json:"reason,omitempty"`
	Message       string   `json:"message,omitempty"`
	Capacity      int64    `json:"capacity"`
	AccessModes   []string `json:"accessModes,omitempty"`
	ReclaimPolicy string   `json:"reclaimPolicy,omitempty"`
	StorageClass  string   `json:"storageClass,omitempty"`
	// Claim is the bound claim, "namespace/name".
	Claim string `json:"claim,omitempty"`
	// Driver and Handle are the volume driver and its identifier.
	Driver string `json:"driver,omitempty"`
	Handle string `json:"handle,omitempty"`
	// Node is where a node-local volume lives.
	Node string `json:"node,omitempty"`
	// Dynamic is true for a provisioned volume (not declared in Git).
	Dynamic bool      `json:"dynamic,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// Spec is the committed spec of a volume declared in Git.
	Spec   *spec.PersistentVolumeSpec `json:"spec,omitempty"`
	Source *spec.Source               `json:"source,omitempty"`
}

// VolumeList is the answer to GET /v1/persistentvolumes, sorted by name.
type VolumeList struct {
	Volumes []Volume `json:"volumes"`
}

// StorageClass is a committed StorageClass, or the built-in default class
// of a repository that declares none, with its defaults filled in.
type StorageClass struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Provisioner string            `json:"provisioner"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	// ReclaimPolicy is Delete or Retain; VolumeBindingMode Immediate or
	// WaitForFirstConsumer.
	ReclaimPolicy        string   `json:"reclaimPolicy"`
	VolumeBindingMode    string   `json:"volumeBindingMode"`
	AllowVolumeExpansion bool     `json:"allowVolumeExpansion,omitempty"`
	MountOptions         []string `json:"mountOptions,omitempty"`
	// Default is true for the class of claims that name none (annotated
	// storageclass.kubernetes.io/is-default-class "true").
	Default bool `json:"default,omitempty"`
	// Builtin is true for the reconciler's own default class, in force
	// because the repository declares none.
	Builtin bool         `json:"builtin,omitempty"`
	Source  *spec.Source `json:"source,omitempty"`
}

// StorageClassList is the answer to GET /v1/storageclasses, sorted by
// name.
type StorageClassList struct {
	StorageClasses []StorageClass `json:"storageClasses"`
}

// ConfigMaps returns the ConfigMaps of namespace ("" for all).
func (c *Client) ConfigMaps(ctx context.Context, namespace string) ([]ConfigMap, error) {
	var l ConfigMapList
	err := c.do(ctx, http.MethodGet, PathConfigMaps, nsQuery(namespace), &l)
	return l.ConfigMaps, err
}

// Secrets returns the Secrets of namespace ("" for all), without values.
func (c *Client) Secrets(ctx context.Context, namespace string) ([]Secret, error) {
	var l SecretList
	err := c.do(ctx, http.MethodGet, PathSecrets, nsQuery(namespace), &l)
	return l.Secrets, err
}

// Claims returns the PersistentVolumeClaims of namespace ("" for all).
func (c *Client) Claims(ctx context.Context, namespace string) ([]Claim, error) {
	var l ClaimList
	err := c.do(ctx, http.MethodGet, PathClaims, nsQuery(namespace), &l)
	return l.Claims, err
}

// Claim returns one PersistentVolumeClaim; an unknown one is an error
// matching ErrNotFound.
func (c *Client) Claim(ctx context.Context, namespace, name string) (*Claim, error) {
	var cl Claim
	if err := c.do(ctx, http.MethodGet, ClaimPath(namespace, name), nil, &cl); err != nil {
		return nil, err
	}
	return &cl, nil
}

// Volumes returns the PersistentVolumes.
func (c *Client) Volumes(ctx context.Context) ([]Volume, error) {
	var l VolumeList
	err := c.do(ctx, http.MethodGet, PathVolumes, nil, &l)
	return l.Volumes, err
}

// StorageClasses returns the StorageClasses.
func (c *Client) StorageClasses(ctx context.Context) ([]StorageClass, error) {
	var l StorageClassList
	err := c.do(ctx, http.MethodGet, PathStorageClasses, nil, &l)
	return l.StorageClasses, err
}
