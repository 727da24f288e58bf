package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Object is any decoded document. Every kind in this package implements it.
type Object interface {
	// GetTypeMeta returns the apiVersion and kind.
	GetTypeMeta() *TypeMeta
	// GetObjectMeta returns the object's metadata.
	GetObjectMeta() *ObjectMeta
}

// ObjectKey identifies an object: kind, namespace (empty for cluster-scoped
// kinds) and name.
type ObjectKey struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String renders the key as "Kind/namespace/name" or "Kind/name".
func (k ObjectKey) String() string {
	if k.Namespace == "" {
		return k.Kind + "/" + k.Name
	}
	return k.Kind + "/" + k.Namespace + "/" + k.Name
}

// KeyOf returns the identity of o.
func KeyOf(o Object) ObjectKey {
	m := o.GetObjectMeta()
	return ObjectKey{Kind: o.GetTypeMeta().Kind, Namespace: m.Namespace, Name: m.Name}
}

// GetTypeMeta implements Object.
func (t *TypeMeta) GetTypeMeta() *TypeMeta { return t }

// GetObjectMeta implements Object.
func (m *ObjectMeta) GetObjectMeta() *ObjectMeta { return m }

var (
	_ Object = (*Namespace)(nil)
	_ Object = (*Pod)(nil)
	_ Object = (*PodTemplate)(nil)
	_ Object = (*ReplicationController)(nil)
	_ Object = (*Service)(nil)
	_ Object = (*Deployment)(nil)
	_ Object = (*Node)(nil)
	_ Object = (*Application)(nil)
	_ Object = (*ConfigMap)(nil)
	_ Object = (*Secret)(nil)
	_ Object = (*PersistentVolumeClaim)(nil)
	_ Object = (*PersistentVolume)(nil)
	_ Object = (*StorageClass)(nil)
	_ Object = (*ReplicaSet)(nil)
	_ Object = (*StatefulSet)(nil)
	_ Object = (*DaemonSet)(nil)
	_ Object = (*Job)(nil)
	_ Object = (*CronJob)(nil)
)

// IntOrString holds an integer or a string such as "25%", as Kubernetes'
// intstr.IntOrString does.
type IntOrString struct {
	IsString bool
	IntVal   int32
	StrVal   string
}

// FromInt returns an IntOrString holding i.
func FromInt(i int32) IntOrString { return IntOrString{IntVal: i} }

// FromString returns an IntOrString holding s.
func FromString(s string) IntOrString { return IntOrString{IsString: true, StrVal: s} }

// MarshalJSON implements json.Marshaler.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return json.Marshal(v.StrVal)
	}
	return json.Marshal(v.IntVal)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.IsString = true
		return json.Unmarshal(b, &v.StrVal)
	}
	v.IsString = false
	return json.Unmarshal(b, &v.IntVal)
}

// String renders the value as written.
func (v IntOrString) String() string {
	if v.IsString {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// Scaled resolves v against total: an integer as is, a percentage of total
// rounded up when roundUp is set and down otherwise.
func (v IntOrString) Scaled(total int, roundUp bool) (int, error) {
	if !v.IsString {
		return int(v.IntVal), nil
	}
	s := v.StrVal
	if len(s) < 2 || s[len(s)-1] != '%' {
		return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage", s)
	}
	p, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || p < 0 {
		return 0, fmt.Errorf("invalid value %q: must be an integer or a percentage", s)
	}
	if roundUp {
		return (p*total + 99) / 100, nil
	}
	return p * total / 100, nil
}
