// Package sops decrypts YAML documents encrypted by Mozilla SOPS
// (github.com/getsops/sops, format version 3), the way Flux's
// kustomize-controller does for Secrets kept in Git: with age identities and
// OpenPGP secret keys held by the cluster, never by the repository.
//
// It implements the file format itself rather than importing sops: values
// are ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] (AES-256-GCM under the file's
// data key, with the value's path, "data:password:", as additional data);
// the data key is encrypted for each recipient in the top-level sops
// mapping (age: an armored age file; pgp: an armored OpenPGP message); the
// MAC, itself encrypted with lastmodified as additional data, is a SHA-512
// over the values in document order (only the encrypted ones with
// mac_only_encrypted). encrypted_regex, unencrypted_regex,
// encrypted_suffix and unencrypted_suffix (default "_unencrypted") choose
// what is encrypted. KMS and Vault recipients, Shamir key groups and the
// comment regexes are not supported: such a file is an error saying so.
//
// Pure: bytes and keys in, bytes or errors out. Errors name recipients and
// fingerprints, never a value.
package sops
