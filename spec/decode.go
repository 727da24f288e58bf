package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// kindInfo describes one supported apiVersion/kind.
type kindInfo struct {
	apiVersion string
	kind       string
	namespaced bool
	newObject  func() Object
}

// kinds lists what the decoder accepts, in the order error messages list
// them.
var kinds = []kindInfo{
	{CoreV1, KindNamespace, false, func() Object { return &Namespace{} }},
	{CoreV1, KindPod, true, func() Object { return &Pod{} }},
	{CoreV1, KindPodTemplate, true, func() Object { return &PodTemplate{} }},
	{CoreV1, KindReplicationController, true, func() Object { return &ReplicationController{} }},
	{CoreV1, KindService, true, func() Object { return &Service{} }},
	{CoreV1, KindNode, false, func() Object { return &Node{} }},
	{CoreV1, KindConfigMap, true, func() Object { return &ConfigMap{} }},
	{CoreV1, KindSecret, true, func() Object { return &Secret{} }},
	{CoreV1, KindServiceAccount, true, func() Object { return &ServiceAccount{} }},
	{CoreV1, KindPersistentVolumeClaim, true, func() Object { return &PersistentVolumeClaim{} }},
	{CoreV1, KindResourceQuota, true, func() Object { return &ResourceQuota{} }},
	{CoreV1, KindLimitRange, true, func() Object { return &LimitRange{} }},
	{CoreV1, KindPersistentVolume, false, func() Object { return &PersistentVolume{} }},
	{StorageV1, KindStorageClass, false, func() Object { return &StorageClass{} }},
	{AppsV1, KindDeployment, true, func() Object { return &Deployment{} }},
	{AppsV1, KindReplicaSet, true, func() Object { return &ReplicaSet{} }},
	{AppsV1, KindStatefulSet, true, func() Object { return &StatefulSet{} }},
	{AppsV1, KindDaemonSet, true, func() Object { return &DaemonSet{} }},
	{BatchV1, KindJob, true, func() Object { return &Job{} }},
	{BatchV1, KindCronJob, true, func() Object { return &CronJob{} }},
	{RBACV1, KindRole, true, func() Object { return &Role{} }},
	{RBACV1, KindClusterRole, false, func() Object { return &ClusterRole{} }},
	{RBACV1, KindRoleBinding, true, func() Object { return &RoleBinding{} }},
	{RBACV1, KindClusterRoleBinding, false, func() Object { return &ClusterRoleBinding{} }},
	{StevedoreV1alpha1, KindApplication, false, func() Object { return &Application{} }},
}

func lookupKind(apiVersion, kind string) *kindInfo {
	for i := range kinds {
		if kinds[i].apiVersion == apiVersion && kinds[i].kind == kind {
			return &kinds[i]
		}
	}
	return nil
}

// Namespaced reports whether objects of kind live in a namespace. Namespace
// and Node are cluster-scoped; unknown kinds report false.
func Namespaced(kind string) bool {
	for _, k := range kinds {
		if k.kind == kind {
			return k.namespaced
		}
	}
	return false
}

// kindHint suggests the fix for a near miss: the right apiVersion for a
// supported kind, or the right spelling of a kind.
func kindHint(apiVersion, kind string) string {
	for _, k := range kinds {
		switch {
		case k.kind == kind:
			return fmt.Sprintf(" (%s is %s)", kind, k.apiVersion)
		case strings.EqualFold(k.kind, kind):
			return fmt.Sprintf(" (did you mean %q?)", k.kind)
		}
	}
	return ""
}

func knownKind(kind string) bool {
	for _, k := range kinds {
		if k.kind == kind {
			return true
		}
	}
	return false
}

// SupportedKinds returns the supported "apiVersion Kind" pairs, e.g.
// "apps/v1 Deployment".
func SupportedKinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.apiVersion + " " + k.kind
	}
	return out
}

// document is one decoded object with what validation needs to place its
// errors: the file, the line of the document and the line of every field.
type document struct {
	file  string
	line  int
	label string
	obj   Object
	lines map[fieldPath]int
	// zeroErrs are the fields written as a 0 that is refused although
	// leaving them out is not (see zeroRefused): found while decoding,
	// reported with validation's errors.
	zeroErrs []fieldError
	// For LoadCached: the document's text and the line it starts on; shift
	// is how far a reused document moved from where lines were recorded,
	// and reused says obj is a Cache's (defaulted, valid, read-only).
	text   []byte
	start  int
	shift  int
	reused bool
	// encrypted says the document was SOPS-encrypted (see secrets.go).
	encrypted bool
	// apiVersion is the older apiVersion the document was written in and
	// obj converted from (see convert.go); "" for a current one.
	apiVersion string
}

// lineOf returns the line of path, or of its nearest ancestor written in the
// file (a missing required field is reported where its parent is).
func (d *document) lineOf(p fieldPath) int {
	for {
		if l, ok := d.lines[p]; ok {
			return l + d.shift
		}
		if p == "" {
			return d.line
		}
		p = p.parent()
	}
}

// nodeBudget bounds the nodes one document may expand to, counting each
// alias every time it is followed, so that a "billion laughs" document is an
// error instead of an out-of-memory.
const nodeBudget = 200000

// decoder turns one file into documents, reporting problems to errs.
type decoder struct {
	file string
	errs *errorSink
	docs []*document
	// rendered drops lines from errors: they would point into a renderer's
	// output, which the author never sees (see Input.Rendered).
	rendered bool
	// decryptor decrypts SOPS-encrypted documents (see secrets.go).
	decryptor Decryptor
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// decodeFile decodes every document of data. A YAML syntax error ends the
// file: the parser cannot resynchronise, so later documents are not trusted.
func (d *decoder) decodeFile(data []byte) {
	data, encrypted, skip := d.decrypt(data)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var n yaml.Node
		err := safeDecode(dec, &n)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			d.syntaxError(err, data)
			return
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 || skip[i] {
			continue
		}
		before := len(d.docs)
		d.decodeTop(n.Content[0], false)
		for _, doc := range d.docs[before:] {
			doc.encrypted = encrypted[i]
		}
	}
}

// safeDecode runs the YAML parser, turning a panic inside it into an error:
// the parser is third-party code fed untrusted input, and one bad file must
// not take the reconciler down.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

func (d *decoder) syntaxError(err error, data []byte) {
	line, msg := splitYAMLError(err)
	// For parser errors ("did not find expected key") go.yaml.in/yaml/v3
	// reports the line where the enclosing block began, often far above the
	// mistake; v2 runs the same parser but reports the problem's own
	// position, so ask it for the line when it finds the same error. For
	// scanner errors v3's line is the better one (an unterminated string is
	// reported where it starts, not at the end of the file).
	if !isParserError(msg) {
		d.errs.add(&Error{File: d.file, Line: line, Message: "invalid YAML: " + msg})
		return
	}
	if l2, msg2 := yamlv2Line(data); msg2 == msg && l2 > 0 {
		line = l2
	}
	d.errs.add(&Error{File: d.file, Line: line, Message: "invalid YAML: " + msg})
}

func splitYAMLError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, msg[len(m[0]):]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// yamlv2Line parses data with go.yaml.in/yaml/v2 and returns the line and
// message of its first syntax error. v2 reports a parser error's 0-based
// line (scanner errors are already 1-based), so those get one added.
func yamlv2Line(data []byte) (line int, msg string) {
	defer func() {
		if recover() != nil {
			line, msg = 0, ""
		}
	}()
	dec := yamlv2.NewDecoder(bytes.NewReader(data))
	for {
		var n any
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return 0, ""
		}
		if err != nil {
			line, msg = splitYAMLError(err)
			if line > 0 && isParserError(msg) {
				line++
			}
			return line, msg
		}
	}
}

// isParserError reports whether msg comes from the YAML parser rather than
// its scanner: the parser's messages are "did not find expected <token>".
func isParserError(msg string) bool {
	for _, p := range []string{"did not find expected key", "did not find expected node content",
		"did not find expected ',' or", "did not find expected '-' indicator",
		"did not find expected <document start>", "did not find expected <stream-end>"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (d *decoder) errorf(line int, object string, field fieldPath, format string, args ...any) {
	if d.rendered {
		line = 0
	}
	d.errs.add(&Error{File: d.file, Line: line, Object: object, Field: string(field), Message: fmt.Sprintf(format, args...)})
}

// scalarField returns the value of a top-level scalar field of a mapping and
// the line of its key, without judging the rest of the document.
func scalarField(m *yaml.Node, name string) (string, int, bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == name {
			if v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
				return v.Value, k.Line, true
			}
			return "", k.Line, false
		}
	}
	return "", 0, false
}

func mappingField(m *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == name {
			v := m.Content[i+1]
			if v.Kind == yaml.MappingNode {
				return v
			}
			return nil
		}
	}
	return nil
}

// objectLabel names an object in errors: "Deployment shop/web", with the
// namespace an unset one defaults to.
func objectLabel(root *yaml.Node, kind string, namespaced bool) string {
	var name, ns string
	if md := mappingField(root, "metadata"); md != nil {
		name, _, _ = scalarField(md, "name")
		ns, _, _ = scalarField(md, "namespace")
	}
	if kind == "" {
		return ""
	}
	if name == "" {
		return kind
	}
	if namespaced && ns == "" {
		ns = DefaultNamespace
	}
	if ns != "" {
		return kind + " " + ns + "/" + name
	}
	return kind + " " + name
}

// listMetaFields are the fields of a List's metadata that `kubectl get -o
// yaml` writes; they carry nothing for a repository and are accepted.
var listMetaFields = map[string]bool{"resourceVersion": true, "selfLink": true, "continue": true, "remainingItemCount": true}

// decodeTop decodes one document, which is an object or a v1 List of them.
func (d *decoder) decodeTop(root *yaml.Node, inList bool) {
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root == nil || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		return
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root.Line, "", "", "expected an object (a mapping with apiVersion, kind and metadata), got %s", nodeKindName(root))
		return
	}
	apiVersion, avLine, _ := scalarField(root, "apiVersion")
	kind, kindLine, _ := scalarField(root, "kind")
	if kind == "List" && !inList {
		d.decodeList(root, apiVersion, avLine)
		return
	}
	ki := lookupKind(apiVersion, kind)
	if lk := lookupLegacyKind(apiVersion, kind); lk != nil {
		d.decodeLegacy(root, lk)
		return
	}
	if ki == nil {
		label := objectLabel(root, kind, false)
		switch {
		case kind == "":
			d.errorf(root.Line, label, "kind", "required: every document needs apiVersion and kind; supported: %s", strings.Join(SupportedKinds(), ", "))
		case apiVersion == "":
			d.errorf(kindLine, label, "apiVersion", "required; supported: %s", strings.Join(SupportedKinds(), ", "))
		default:
			line := kindLine
			if knownKind(kind) && avLine > 0 {
				// The kind is right, so the apiVersion is what to fix.
				line = avLine
			}
			d.errorf(line, label, "", "unsupported apiVersion/kind %q%s; supported: %s", apiVersion+" "+kind, kindHint(apiVersion, kind), strings.Join(SupportedKinds(), ", "))
		}
		return
	}
	doc := &document{
		file:  d.file,
		line:  root.Line,
		label: objectLabel(root, ki.kind, ki.namespaced),
		obj:   ki.newObject(),
		lines: map[fieldPath]int{"": root.Line},
	}
	w := &walker{d: d, doc: doc, budget: nodeBudget}
	w.decode(root, reflect.ValueOf(doc.obj).Elem(), "")
	if w.failed {
		// Validating a half-decoded object would only add noise: a type
		// error leaves a zero value that then looks "required".
		return
	}
	d.docs = append(d.docs, doc)
}

// decodeLegacy decodes a document of an older apiVersion into that
// version's Go type, then converts it to apps/v1 (see convert.go).
func (d *decoder) decodeLegacy(root *yaml.Node, lk *legacyKind) {
	ki := lookupKind(AppsV1, lk.kind)
	doc := &document{
		file:       d.file,
		line:       root.Line,
		label:      objectLabel(root, ki.kind, ki.namespaced),
		obj:        lk.newObject(),
		lines:      map[fieldPath]int{"": root.Line},
		apiVersion: lk.apiVersion,
	}
	w := &walker{d: d, doc: doc, budget: nodeBudget}
	w.decode(root, reflect.ValueOf(doc.obj).Elem(), "")
	if w.failed {
		return
	}
	n := len(d.errs.list) + d.errs.more
	d.refuseLegacyFields(doc)
	if len(d.errs.list)+d.errs.more > n {
		return
	}
	doc.obj = toAppsV1(lk.apiVersion, doc.obj)
	d.docs = append(d.docs, doc)
}

func (d *decoder) decodeList(root *yaml.Node, apiVersion string, avLine int) {
	if apiVersion != CoreV1 {
		d.errorf(max(avLine, root.Line), "List", "apiVersion", "a List must have apiVersion v1, got %q", apiVersion)
		return
	}
	var items *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "apiVersion", "kind":
		case "items":
			items = v
		case "metadata":
			if v.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					if !listMetaFields[v.Content[j].Value] {
						d.errorf(v.Content[j].Line, "List", fieldPath("metadata").child(v.Content[j].Value), "unknown field")
					}
				}
			}
		default:
			d.errorf(k.Line, "List", fieldPath(k.Value), "unknown field")
		}
	}
	if items == nil || (items.Kind == yaml.ScalarNode && items.ShortTag() == "!!null") {
		return
	}
	if items.Kind != yaml.SequenceNode {
		d.errorf(items.Line, "List", "items", "expected a list, got %s", nodeKindName(items))
		return
	}
	for _, it := range items.Content {
		d.decodeTop(it, true)
	}
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		case "!!timestamp":
			return "a timestamp"
		}
		return "a value tagged " + n.ShortTag()
	}
	return "nothing"
}
