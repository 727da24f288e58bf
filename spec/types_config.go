package spec

// Kinds of configuration objects.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// ConfigMap is a v1 ConfigMap: configuration that pods take as
// environment variables or files.
type ConfigMap struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Data is UTF-8 values by key. Keys are letters, digits, "-", "_"
	// and "."; a key may not be in both Data and BinaryData.
	Data map[string]string `json:"data,omitempty"`
	// BinaryData is binary values by key (base64 in YAML).
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
	// Immutable, when true, is informational: Git is the only writer.
	Immutable *bool `json:"immutable,omitempty"`
}

// Secret types, as Kubernetes names them.
const (
	SecretTypeOpaque           = "Opaque"
	SecretTypeServiceAccount   = "kubernetes.io/service-account-token"
	SecretTypeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth        = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth          = "kubernetes.io/ssh-auth"
	SecretTypeTLS              = "kubernetes.io/tls"
)

// Secret is a v1 Secret. In Git it is encrypted with SOPS (see
// spec/sops); a plaintext Secret is refused unless its namespace allows
// it (AllowPlaintextSecretsAnnotation). Its values never appear in logs,
// events, diffs or API answers.
type Secret struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Data is values by key, base64 in YAML.
	Data map[string][]byte `json:"data,omitempty"`
	// StringData is values by key as plain strings, merged into Data at
	// load (a key in both takes StringData's value).
	StringData map[string]string `json:"stringData,omitempty"`
	// Type is the Secret's type; defaults to Opaque.
	Type string `json:"type,omitempty"`
	// Immutable, when true, is informational: Git is the only writer.
	Immutable *bool `json:"immutable,omitempty"`
}

// AllowPlaintextSecretsAnnotation on a Namespace, set to "true", lets its
// Secrets be committed unencrypted.
const AllowPlaintextSecretsAnnotation = "stevedore.dev/allow-plaintext-secrets"
