package sops

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MetadataKey is the top-level key that holds a document's sops metadata.
const MetadataKey = "sops"

// defaultUnencryptedSuffix is what sops leaves unencrypted when a file
// names no rule (sops.DefaultUnencryptedSuffix).
const defaultUnencryptedSuffix = "_unencrypted"

// macOnlyEncryptedInit starts the MAC of a file with mac_only_encrypted,
// so that it differs from the MAC over all values (sops'
// MACOnlyEncryptedInitialization: the SHA-256 of "sops").
var macOnlyEncryptedInit = []byte{0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0xb, 0xb, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69}

type ageEntry struct{ recipient, enc string }
type pgpEntry struct{ fp, enc string }

// metadata is what decryption needs of a document's sops mapping.
type metadata struct {
	age   []ageEntry
	pgp   []pgpEntry
	other []string // key services Stevedore does not speak: "AWS KMS", …

	lastModified string // as sops formats it: the MAC's additional data
	mac          string // encrypted

	unencryptedSuffix, encryptedSuffix string
	unencryptedRegex, encryptedRegex   *regexp.Regexp
	macOnlyEncrypted                   bool
}

var otherKeyServices = map[string]string{
	"kms": "AWS KMS", "gcp_kms": "GCP KMS", "azure_kv": "Azure Key Vault",
	"hc_vault": "HashiCorp Vault", "hckms": "Huawei Cloud KMS",
}

// parseMetadata reads the value of a document's sops key.
func parseMetadata(n *yaml.Node) (*metadata, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("the sops key is not a mapping")
	}
	md := &metadata{}
	var rules []string
	var keyGroups *yaml.Node
	var encRe, unencRe string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "age":
			entries, err := seqOfMaps(k, v)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				md.age = append(md.age, ageEntry{recipient: e["recipient"], enc: e["enc"]})
			}
		case "pgp":
			entries, err := seqOfMaps(k, v)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				md.pgp = append(md.pgp, pgpEntry{fp: strings.ToUpper(e["fp"]), enc: e["enc"]})
			}
		case "key_groups":
			keyGroups = v
		case "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms":
			if v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
				md.other = append(md.other, otherKeyServices[k])
			}
		case "lastmodified":
			md.lastModified = v.Value
		case "mac":
			md.mac = v.Value
		case "unencrypted_suffix":
			md.unencryptedSuffix = v.Value
		case "encrypted_suffix":
			md.encryptedSuffix = v.Value
		case "unencrypted_regex":
			unencRe = v.Value
		case "encrypted_regex":
			encRe = v.Value
		case "unencrypted_comment_regex", "encrypted_comment_regex":
			if v.Value != "" {
				return nil, fmt.Errorf("%s is not supported: encrypt with encrypted_regex or unencrypted_suffix instead", k)
			}
		case "mac_only_encrypted":
			b, err := strconv.ParseBool(v.Value)
			if err != nil {
				return nil, fmt.Errorf("mac_only_encrypted: not a boolean: %q", v.Value)
			}
			md.macOnlyEncrypted = b
		case "shamir_threshold", "version":
		}
	}
	for _, r := range []struct{ name, v string }{{"unencrypted_suffix", md.unencryptedSuffix}, {"encrypted_suffix", md.encryptedSuffix}, {"unencrypted_regex", unencRe}, {"encrypted_regex", encRe}} {
		if r.v != "" {
			rules = append(rules, r.name)
		}
	}
	if len(rules) > 1 {
		return nil, fmt.Errorf("the sops metadata has more than one of %s; sops allows one", strings.Join(rules, ", "))
	}
	if len(rules) == 0 {
		md.unencryptedSuffix = defaultUnencryptedSuffix
	}
	var err error
	if encRe != "" {
		if md.encryptedRegex, err = regexp.Compile(encRe); err != nil {
			return nil, fmt.Errorf("encrypted_regex: %v", err)
		}
	}
	if unencRe != "" {
		if md.unencryptedRegex, err = regexp.Compile(unencRe); err != nil {
			return nil, fmt.Errorf("unencrypted_regex: %v", err)
		}
	}
	if len(md.age) == 0 && len(md.pgp) == 0 && len(md.other) == 0 && keyGroups != nil {
		if keyGroups.Kind != yaml.SequenceNode || len(keyGroups.Content) != 1 {
			return nil, errors.New("key_groups with more than one group (Shamir secret sharing) are not supported: use one group of recipients")
		}
		sub, err := parseMetadata(&yaml.Node{Kind: yaml.MappingNode, Content: keyGroups.Content[0].Content})
		if err != nil {
			return nil, fmt.Errorf("key_groups: %v", err)
		}
		md.age, md.pgp, md.other = sub.age, sub.pgp, sub.other
	}
	t, err := time.Parse(time.RFC3339, md.lastModified)
	if err != nil {
		return nil, fmt.Errorf("lastmodified %q is not an RFC 3339 time", md.lastModified)
	}
	md.lastModified = t.Format(time.RFC3339)
	return md, nil
}

// seqOfMaps reads a list of mappings of scalars (age and pgp entries).
func seqOfMaps(name string, n *yaml.Node) ([]map[string]string, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: expected a list", name)
	}
	var out []map[string]string
	for _, it := range n.Content {
		if it.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: expected a list of mappings", name)
		}
		m := map[string]string{}
		for j := 0; j+1 < len(it.Content); j += 2 {
			m[it.Content[j].Value] = it.Content[j+1].Value
		}
		out = append(out, m)
	}
	return out, nil
}

// shouldBeEncrypted is sops' Tree.shouldBeEncrypted without the comment
// rules (refused when parsing): whether the value at path is encrypted.
func (md *metadata) shouldBeEncrypted(path []string) bool {
	encrypted := true
	if md.unencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, md.unencryptedSuffix) {
				encrypted = false
				break
			}
		}
	}
	if md.encryptedSuffix != "" {
		encrypted = false
		for _, p := range path {
			if strings.HasSuffix(p, md.encryptedSuffix) {
				encrypted = true
				break
			}
		}
	}
	if md.unencryptedRegex != nil {
		for _, p := range path {
			if md.unencryptedRegex.MatchString(p) {
				encrypted = false
				break
			}
		}
	}
	if md.encryptedRegex != nil {
		encrypted = false
		for _, p := range path {
			if md.encryptedRegex.MatchString(p) {
				encrypted = true
				break
			}
		}
	}
	return encrypted
}
