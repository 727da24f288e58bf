package spec

import "encoding/json"

// This file checks ConfigMaps, Secrets and ServiceAccounts on their own, as
// Kubernetes' ValidateConfigMap, ValidateSecret and ValidateServiceAccount
// do. No message quotes a Secret's value.

// Keys a typed Secret must hold, as Kubernetes names them.
const (
	SecretTLSCertKey          = "tls.crt"
	SecretTLSPrivateKeyKey    = "tls.key"
	SecretBasicAuthUsername   = "username"
	SecretBasicAuthPassword   = "password"
	SecretSSHAuthPrivateKey   = "ssh-privatekey"
	SecretDockerConfigJSONKey = ".dockerconfigjson"
	// ServiceAccountNameAnnotation names the service account of a
	// kubernetes.io/service-account-token Secret.
	ServiceAccountNameAnnotation = "kubernetes.io/service-account.name"
)

func (v *validator) configMap(c *ConfigMap) {
	v.objectMeta(&c.ObjectMeta, true, isDNS1123Subdomain)
	size := 0
	for _, k := range sortedKeys(c.Data) {
		v.configKey(k, fieldPath("data").key(k))
		size += len(k) + len(c.Data[k])
	}
	for _, k := range sortedKeys(c.BinaryData) {
		kp := fieldPath("binaryData").key(k)
		v.configKey(k, kp)
		if _, dup := c.Data[k]; dup {
			v.add(kp, "duplicate of key present in data: a key may be in data or binaryData, not both")
		}
		size += len(k) + len(c.BinaryData[k])
	}
	if size > MaxConfigSize {
		v.add("", "too long: a ConfigMap must have at most %d bytes of keys and values in all (it has %d)", MaxConfigSize, size)
	}
}

func (v *validator) configKey(k string, p fieldPath) {
	if msg := isConfigMapKey(k); msg != "" {
		v.add(p, "invalid key %q: %s", k, msg)
	}
}

// secret checks a defaulted Secret (stringData already merged into data).
func (v *validator) secret(s *Secret) {
	v.objectMeta(&s.ObjectMeta, true, isDNS1123Subdomain)
	size := 0
	for _, k := range sortedKeys(s.Data) {
		v.configKey(k, fieldPath("data").key(k))
		size += len(k) + len(s.Data[k])
	}
	if size > MaxConfigSize {
		v.add("data", "too long: a Secret must have at most %d bytes of keys and values in all (it has %d)", MaxConfigSize, size)
	}
	dp := fieldPath("data")
	need := func(keys ...string) {
		for _, k := range keys {
			if _, ok := s.Data[k]; !ok {
				v.add(dp.key(k), "required: a Secret of type %s needs key %q (in data or stringData)", s.Type, k)
			}
		}
	}
	switch s.Type {
	case SecretTypeTLS:
		need(SecretTLSCertKey, SecretTLSPrivateKeyKey)
	case SecretTypeSSHAuth:
		need(SecretSSHAuthPrivateKey)
	case SecretTypeBasicAuth:
		if len(s.Data[SecretBasicAuthUsername]) == 0 && len(s.Data[SecretBasicAuthPassword]) == 0 {
			v.add(dp, "required: a Secret of type %s needs key %q or %q", s.Type, SecretBasicAuthUsername, SecretBasicAuthPassword)
		}
	case SecretTypeDockerConfigJSON:
		need(SecretDockerConfigJSONKey)
		if b, ok := s.Data[SecretDockerConfigJSONKey]; ok && !json.Valid(b) {
			v.add(dp.key(SecretDockerConfigJSONKey), "invalid value (not shown): must be valid JSON")
		}
	case SecretTypeServiceAccount:
		if s.Annotations[ServiceAccountNameAnnotation] == "" {
			v.add(fieldPath("metadata.annotations").key(ServiceAccountNameAnnotation), "required: a Secret of type %s names its service account", s.Type)
		}
	case "":
		v.add("type", "required")
	default:
		if len(s.Type) > dns1123SubdomainMaxLength {
			v.add("type", "too long: must have at most %d bytes", dns1123SubdomainMaxLength)
		}
	}
}
