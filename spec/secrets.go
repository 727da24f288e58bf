package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Decryptor decrypts the SOPS-encrypted documents of a YAML stream (a file,
// or what a renderer produced), returning the stream with the documents in
// plaintext, line for line, and documents that are not encrypted
// unchanged. Package spec/sops implements it with a cluster's keys
// (*sops.Keys). Its errors never hold plaintext; an error that has a
// DocumentIndex() int method (or several, joined) is reported on that
// document, any other on every encrypted document of the stream.
type Decryptor interface {
	DecryptDocument(doc []byte) ([]byte, error)
}

// RenderedDecryptor is a Decryptor that also decrypts a renderer's output
// (kustomize), whose resources the renderer rewrote (sorted keys, labels,
// a namespace) so that the sops file's MAC cannot hold: DecryptRendered
// checks each value's own authentication but not the MAC. The files a
// renderer read are checked whole, MAC included, beforehand
// (VerifyEncrypted), as they are in the repository.
type RenderedDecryptor interface {
	DecryptRendered(doc []byte) ([]byte, error)
}

// VerifyEncrypted decrypts the SOPS-encrypted documents of one file as
// Load would, keeping nothing, and returns what fails at the file's lines
// with the objects' names: package render checks with it the encrypted
// files a kustomization reads, before building.
func VerifyEncrypted(file string, data []byte, decryptor Decryptor) ErrorList {
	if !mayBeSOPS(data) {
		return nil
	}
	d := &decoder{file: file, errs: &errorSink{}, decryptor: decryptor}
	d.decrypt(data)
	return d.errs.list
}

// sopsKey is the top-level key of a SOPS-encrypted document's metadata.
const sopsKey = "sops"

// mayBeSOPS is the cheap test for a file with SOPS-encrypted documents: a
// line that starts with "sops:". Such files are decoded whole, every time,
// and their documents never enter a Cache: their objects depend on the
// keys as much as on their text.
func mayBeSOPS(data []byte) bool {
	return bytes.HasPrefix(data, []byte(sopsKey+":")) || bytes.Contains(data, []byte("\n"+sopsKey+":"))
}

// encryptedDoc is a document of a stream that has a top-level sops
// mapping.
type encryptedDoc struct {
	line  int
	label string
}

// decrypt is decodeFile's first step: it returns the text to decode, the
// indexes (in the stream) of the documents that were encrypted, and those
// that failed to decrypt and must not be decoded (their errors reported).
// A stream with a syntax error is returned as it is: decoding reports it.
func (d *decoder) decrypt(data []byte) ([]byte, map[int]bool, map[int]bool) {
	if !mayBeSOPS(data) {
		return data, nil, nil
	}
	encrypted := map[int]encryptedDoc{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var n yaml.Node
		err := safeDecode(dec, &n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return data, nil, nil
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := n.Content[0]
		if mappingField(root, sopsKey) == nil {
			continue
		}
		apiVersion, _, _ := scalarField(root, "apiVersion")
		kind, _, _ := scalarField(root, "kind")
		namespaced := false
		if ki := lookupKind(apiVersion, kind); ki != nil {
			namespaced = ki.namespaced
		}
		encrypted[i] = encryptedDoc{line: root.Line, label: objectLabel(root, kind, namespaced)}
	}
	if len(encrypted) == 0 {
		return data, nil, nil
	}
	was := make(map[int]bool, len(encrypted))
	for i := range encrypted {
		was[i] = true
	}
	fail := func(i int, msg string) {
		e := encrypted[i]
		d.errorf(e.line, e.label, "", "failed to decrypt: %s", msg)
	}
	if d.decryptor == nil {
		for i := range encrypted {
			fail(i, "the document is encrypted with SOPS and no decryption keys are configured (reconciler --sops-age-key-file or --sops-pgp-key-file; for ctl, the same flags or SOPS_AGE_KEY_FILE)")
		}
		return data, was, was
	}
	decrypt := d.decryptor.DecryptDocument
	if rd, ok := d.decryptor.(RenderedDecryptor); ok && d.rendered {
		decrypt = rd.DecryptRendered
	}
	out, err := decrypt(data)
	if err == nil {
		return out, was, nil
	}
	for _, e := range leafErrors(err) {
		var di interface{ DocumentIndex() int }
		if errors.As(e, &di) {
			if _, ok := encrypted[di.DocumentIndex()]; ok {
				fail(di.DocumentIndex(), e.Error())
				continue
			}
		}
		for i := range encrypted {
			fail(i, e.Error())
		}
	}
	// Nothing was decrypted: the plain documents still decode (and report
	// their own errors), the encrypted ones do not.
	return data, was, was
}

// leafErrors flattens joined errors.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// plaintextSecretMessage is why an unencrypted Secret is refused.
const plaintextSecretMessage = "is not encrypted with SOPS: encrypt it (sops --encrypt --encrypted-regex '^(data|stringData)$') or annotate namespace %s with %s: \"true\""

// checkPlaintextSecrets refuses every Secret that was committed
// unencrypted, unless its Namespace, declared in the revision, carries
// AllowPlaintextSecretsAnnotation: "true" (the default namespace too:
// declare it to annotate it).
func checkPlaintextSecrets(docs []*document, set *Set, errs *errorSink) {
	for _, doc := range docs {
		s, ok := doc.obj.(*Secret)
		if !ok || doc.encrypted {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		if o, ok := set.Objects[ObjectKey{Kind: KindNamespace, Name: ns}]; ok && o.GetObjectMeta().Annotations[AllowPlaintextSecretsAnnotation] == "true" {
			continue
		}
		errs.add(&Error{File: doc.file, Line: doc.line, Object: keyLabel(KeyOf(s)),
			Message: fmt.Sprintf(plaintextSecretMessage, ns, AllowPlaintextSecretsAnnotation)})
	}
}
