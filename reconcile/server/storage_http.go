package server

import (
	"net/http"
	"sort"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// This file serves ConfigMaps, Secrets, PersistentVolumeClaims,
// PersistentVolumes and StorageClasses from the view: the applied set's
// objects, and the core's claim and volume views (what became of them).
// A Secret's values never leave this file: secretOf copies names, types
// and sizes only.

// registerStorageRoutes adds the configuration and storage reads, served
// by the leader (a follower forwards them, as every read of the view).
func (s *Server) registerStorageRoutes(lead func(string, http.HandlerFunc)) {
	lead("GET "+api.PathConfigMaps, s.handleConfigMaps)
	lead("GET "+api.PathSecrets, s.handleSecrets)
	lead("GET "+api.PathClaims, s.handleClaims)
	lead("GET "+api.PathClaim, s.handleClaim)
	lead("GET "+api.PathVolumes, s.handleVolumes)
	lead("GET "+api.PathStorageClasses, s.handleStorageClasses)
}

func (s *Server) handleConfigMaps(w http.ResponseWriter, r *http.Request) {
	v := s.view.Load()
	out := []api.ConfigMap{}
	for _, o := range v.objectsIn(spec.KindConfigMap, r.URL.Query().Get("namespace")) {
		if cm, ok := o.(*spec.ConfigMap); ok {
			out = append(out, configMapOf(cm, v.source(o)))
		}
	}
	writeJSON(w, http.StatusOK, api.ConfigMapList{ConfigMaps: out})
}

func (s *Server) handleSecrets(w http.ResponseWriter, r *http.Request) {
	v := s.view.Load()
	out := []api.Secret{}
	for _, o := range v.objectsIn(spec.KindSecret, r.URL.Query().Get("namespace")) {
		if sec, ok := o.(*spec.Secret); ok {
			out = append(out, secretOf(sec, v.source(o)))
		}
	}
	writeJSON(w, http.StatusOK, api.SecretList{Secrets: out})
}

func (s *Server) handleClaims(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	out := []api.Claim{}
	for _, c := range s.view.Load().claimList() {
		if ns == "" || c.Namespace == ns {
			out = append(out, c)
		}
	}
	writeJSON(w, http.StatusOK, api.ClaimList{Claims: out})
}

func (s *Server) handleClaim(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	for _, c := range s.view.Load().claimList() {
		if c.Namespace == ns && c.Name == name {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	errs.WriteHTTP(w, errNotFound("persistentvolumeclaim "+ns+"/"+name+" not found"))
}

func (s *Server) handleVolumes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, api.VolumeList{Volumes: s.view.Load().volumeList()})
}

func (s *Server) handleStorageClasses(w http.ResponseWriter, _ *http.Request) {
	v := s.view.Load()
	out := []api.StorageClass{}
	for _, o := range v.objectsIn(spec.KindStorageClass, "") {
		if sc, ok := o.(*spec.StorageClass); ok {
			out = append(out, storageClassOf(sc, v.source(o), false))
		}
	}
	// The built-in default, when the repository declares no default
	// of its own (spec.Set.StorageClasses), listed last.
	if v.set != nil {
		if b, ok := v.set.StorageClasses()[spec.BuiltinStorageClassName]; ok && v.set.Objects[spec.KeyOf(b)] == nil {
			out = append(out, storageClassOf(b, nil, true))
		}
	}
	writeJSON(w, http.StatusOK, api.StorageClassList{StorageClasses: out})
}

// objectsIn returns the applied set's objects of kind in namespace ns (""
// for all), sorted by namespace and name; none before a revision applies.
func (v *view) objectsIn(kind, ns string) []spec.Object {
	if v.set == nil {
		return nil
	}
	var out []spec.Object
	for _, o := range v.set.OfKind(kind) {
		if ns == "" || o.GetObjectMeta().Namespace == ns {
			out = append(out, o)
		}
	}
	return out
}

// source is the file and line that declare o, when known.
func (v *view) source(o spec.Object) *spec.Source {
	if v.set == nil {
		return nil
	}
	if src, ok := v.set.Sources[spec.KeyOf(o)]; ok {
		return &src
	}
	return nil
}

// object is the applied set's object of that key, or nil.
func (v *view) object(kind, ns, name string) spec.Object {
	if v.set == nil {
		return nil
	}
	return v.set.Objects[spec.ObjectKey{Kind: kind, Namespace: ns, Name: name}]
}

func configMapOf(cm *spec.ConfigMap, src *spec.Source) api.ConfigMap {
	out := api.ConfigMap{Namespace: cm.Namespace, Name: cm.Name, Labels: cm.Labels, Annotations: cm.Annotations,
		Data: cm.Data, Immutable: cm.Immutable != nil && *cm.Immutable, Source: src}
	if len(cm.BinaryData) > 0 {
		out.BinaryData = make(map[string]int, len(cm.BinaryData))
		for k, b := range cm.BinaryData {
			out.BinaryData[k] = len(b)
		}
	}
	return out
}

// lastAppliedAnnotation is kubectl apply's copy of the object it applied:
// on a Secret copied from a cluster, the values themselves.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// secretOf is what the API says of a Secret: its metadata, type, keys and
// their sizes. Never a value.
func secretOf(sec *spec.Secret, src *spec.Source) api.Secret {
	out := api.Secret{Namespace: sec.Namespace, Name: sec.Name, Labels: sec.Labels, Type: sec.Type,
		Immutable: sec.Immutable != nil && *sec.Immutable, Source: src, Keys: []api.SecretKey{}}
	if out.Type == "" {
		out.Type = spec.SecretTypeOpaque
	}
	for k, v := range sec.Annotations {
		if k == lastAppliedAnnotation {
			continue
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[k] = v
	}
	sizes := make(map[string]int, len(sec.Data)+len(sec.StringData))
	for k, b := range sec.Data {
		sizes[k] = len(b)
	}
	// A loader that has not merged stringData into data yet: stringData
	// wins, as the API server merges it.
	for k, s := range sec.StringData {
		sizes[k] = len(s)
	}
	for k, n := range sizes {
		out.Keys = append(out.Keys, api.SecretKey{Name: k, Size: n})
	}
	sort.Slice(out.Keys, func(i, j int) bool { return out.Keys[i].Name < out.Keys[j].Name })
	return out
}

// claimList is the view's claims with their committed objects: the core's
// views, then, as Pending, any committed claim the core reported nothing
// of. Sorted by namespace and name.
func (v *view) claimList() []api.Claim {
	out := make([]api.Claim, 0, len(v.claims))
	seen := make(map[string]bool, len(v.claims))
	for i := range v.claims {
		cv := &v.claims[i]
		seen[cv.Namespace+"/"+cv.Name] = true
		c := api.Claim{Namespace: cv.Namespace, Name: cv.Name, Phase: cv.Phase, Reason: cv.Reason, Message: cv.Message,
			Volume: cv.Volume, Requested: cv.Requested, Capacity: cv.Capacity, AccessModes: cv.AccessModes,
			StorageClass: cv.StorageClass, Node: cv.Node, UsedBy: cv.UsedBy, Created: cv.Created, Owner: cv.Owner}
		if o, ok := v.object(spec.KindPersistentVolumeClaim, cv.Namespace, cv.Name).(*spec.PersistentVolumeClaim); ok {
			claimObject(&c, o, v.source(o))
		}
		out = append(out, c)
	}
	for _, o := range v.objectsIn(spec.KindPersistentVolumeClaim, "") {
		pvc, ok := o.(*spec.PersistentVolumeClaim)
		if !ok || seen[pvc.Namespace+"/"+pvc.Name] {
			continue
		}
		c := api.Claim{Namespace: pvc.Namespace, Name: pvc.Name, Phase: reconcile.ClaimPending, AccessModes: pvc.Spec.AccessModes}
		if q, ok := pvc.Spec.Resources.Requests[resourceStorage]; ok {
			c.Requested = q.Value()
		}
		if pvc.Spec.StorageClassName != nil {
			c.StorageClass = *pvc.Spec.StorageClassName
		}
		claimObject(&c, pvc, v.source(o))
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func claimObject(c *api.Claim, o *spec.PersistentVolumeClaim, src *spec.Source) {
	sp := o.Spec
	c.Labels, c.Annotations, c.Spec, c.Source = o.Labels, o.Annotations, &sp, src
}

// volumeList is the view's volumes with their committed objects, then, as
// Pending, any committed volume the core reported nothing of. Sorted by
// name.
func (v *view) volumeList() []api.Volume {
	out := make([]api.Volume, 0, len(v.volumes))
	seen := make(map[string]bool, len(v.volumes))
	for i := range v.volumes {
		vv := &v.volumes[i]
		seen[vv.Name] = true
		vol := api.Volume{Name: vv.Name, Phase: vv.Phase, Reason: vv.Reason, Message: vv.Message, Capacity: vv.Capacity,
			AccessModes: vv.AccessModes, ReclaimPolicy: vv.ReclaimPolicy, StorageClass: vv.StorageClass, Claim: vv.Claim,
			Driver: vv.Driver, Handle: vv.Handle, Node: vv.Node, Dynamic: vv.Dynamic, Created: vv.Created}
		if o, ok := v.object(spec.KindPersistentVolume, "", vv.Name).(*spec.PersistentVolume); ok {
			volumeObject(&vol, o, v.source(o))
		}
		out = append(out, vol)
	}
	for _, o := range v.objectsIn(spec.KindPersistentVolume, "") {
		pv, ok := o.(*spec.PersistentVolume)
		if !ok || seen[pv.Name] {
			continue
		}
		vol := api.Volume{Name: pv.Name, Phase: "Pending", AccessModes: pv.Spec.AccessModes,
			ReclaimPolicy: orDefault(pv.Spec.PersistentVolumeReclaimPolicy, spec.ReclaimRetain), StorageClass: pv.Spec.StorageClassName}
		if q, ok := pv.Spec.Capacity[resourceStorage]; ok {
			vol.Capacity = q.Value()
		}
		if ref := pv.Spec.ClaimRef; ref != nil {
			vol.Claim = ref.Namespace + "/" + ref.Name
		}
		if csi := pv.Spec.CSI; csi != nil {
			vol.Driver, vol.Handle = csi.Driver, csi.VolumeHandle
		}
		volumeObject(&vol, pv, v.source(o))
		out = append(out, vol)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func volumeObject(vol *api.Volume, o *spec.PersistentVolume, src *spec.Source) {
	sp := o.Spec
	vol.Labels, vol.Annotations, vol.Spec, vol.Source = o.Labels, o.Annotations, &sp, src
}

// storageClassOf is a class with Kubernetes' defaults filled in (Delete,
// Immediate).
func storageClassOf(sc *spec.StorageClass, src *spec.Source, builtin bool) api.StorageClass {
	out := api.StorageClass{Name: sc.Name, Labels: sc.Labels, Annotations: sc.Annotations, Provisioner: sc.Provisioner,
		Parameters: sc.Parameters, MountOptions: sc.MountOptions, ReclaimPolicy: spec.ReclaimDelete,
		VolumeBindingMode: spec.VolumeBindingImmediate, Builtin: builtin, Source: src,
		Default: sc.Annotations[spec.DefaultStorageClassAnnotation] == "true"}
	if sc.ReclaimPolicy != nil && *sc.ReclaimPolicy != "" {
		out.ReclaimPolicy = *sc.ReclaimPolicy
	}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode != "" {
		out.VolumeBindingMode = *sc.VolumeBindingMode
	}
	out.AllowVolumeExpansion = sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
	return out
}

// resourceStorage is the resource name of a claim's request and a volume's
// capacity.
const resourceStorage = spec.ResourceStorage
