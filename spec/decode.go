package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
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
	{CoreV1, KindNode, false, func() Object { return &Node{} }},
	{AppsV1, KindDeployment, true, func() Object { return &Deployment{} }},
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
}

// lineOf returns the line of path, or of its nearest ancestor written in the
// file (a missing required field is reported where its parent is).
func (d *document) lineOf(p fieldPath) int {
	for {
		if l, ok := d.lines[p]; ok {
			return l
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
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// decodeFile decodes every document of data. A YAML syntax error ends the
// file: the parser cannot resynchronise, so later documents are not trusted.
func (d *decoder) decodeFile(data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := safeDecode(dec, &n)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			d.syntaxError(err, data)
			return
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		d.decodeTop(n.Content[0], false)
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

// walker decodes one document into its Go value, checking every field
// against the type through reflection and the json tags, so each unknown
// field and type mismatch is reported with its own line and path.
type walker struct {
	d      *decoder
	doc    *document
	budget int
	failed bool
}

func (w *walker) errorf(line int, p fieldPath, format string, args ...any) {
	w.failed = true
	w.d.errorf(line, w.doc.label, p, format, args...)
}

// mismatch reports a value of the wrong type at p, on the line of p's key
// (a block list or mapping starts on the line after its key, but the key is
// what the reader looks for).
func (w *walker) mismatch(n *yaml.Node, p fieldPath, format string, args ...any) {
	line := n.Line
	if l, ok := w.doc.lines[p]; ok {
		line = l
	}
	w.errorf(line, p, format, args...)
}

var (
	quantityType    = reflect.TypeOf(resource.Quantity{})
	intOrStringType = reflect.TypeOf(IntOrString{})
	objectMetaType  = reflect.TypeOf(ObjectMeta{})
)

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// spend counts one node against the budget; false means stop.
func (w *walker) spend(n *yaml.Node) bool {
	w.budget--
	if w.budget == 0 {
		w.errorf(n.Line, "", "document too large: more than %d nodes once aliases are expanded", nodeBudget)
	}
	return w.budget > 0
}

func (w *walker) decode(n *yaml.Node, v reflect.Value, p fieldPath) {
	if !w.spend(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if isNull(n) {
		// null means unset, as in Kubernetes' JSON decoding.
		return
	}
	switch v.Type() {
	case quantityType:
		w.decodeQuantity(n, v, p)
		return
	case intOrStringType:
		w.decodeIntOrString(n, v, p)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		w.decode(n, v.Elem(), p)
	case reflect.Struct:
		w.decodeStruct(n, v, p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.mismatch(n, p, "expected a list, got %s", nodeKindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, it := range n.Content {
			ip := p.index(i)
			w.doc.lines[ip] = it.Line
			w.decode(it, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.Map:
		w.decodeMap(n, v, p)
	case reflect.String:
		w.decodeString(n, v, p)
	case reflect.Bool:
		w.decodeBool(n, v, p)
	case reflect.Int32, reflect.Int64, reflect.Int:
		w.decodeInt(n, v, p)
	default:
		// Every field type of the API is handled above; reaching here is a
		// programming error in types.go, reported rather than panicking.
		w.errorf(n.Line, p, "internal error: cannot decode into %s", v.Type())
	}
}

// entry is one key/value pair of a mapping after merge keys are expanded.
type entry struct{ key, val *yaml.Node }

// entries returns the pairs of mapping n, expanding YAML merge keys ("<<:
// *base"); keys written explicitly win over merged ones, and a key written
// twice is an error, as in Kubernetes' strict decoding.
func (w *walker) entries(n *yaml.Node, p fieldPath, isMap bool) []entry {
	var out []entry
	seen := map[string]int{}
	var merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, w.mergeEntries(val, p, isMap)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.errorf(k.Line, p, "expected a field name, got %s", nodeKindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			kp := p.child(k.Value)
			if isMap {
				kp = p.key(k.Value)
			}
			w.errorf(k.Line, kp, "duplicate field: already set on line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{k, val})
	}
	for _, e := range merged {
		if _, dup := seen[e.key.Value]; dup {
			continue
		}
		seen[e.key.Value] = e.key.Line
		out = append(out, e)
	}
	return out
}

func (w *walker) mergeEntries(n *yaml.Node, p fieldPath, isMap bool) []entry {
	if !w.spend(n) {
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return w.entries(n, p, isMap)
	case yaml.SequenceNode:
		var out []entry
		for _, it := range n.Content {
			out = append(out, w.mergeEntries(it, p, isMap)...)
		}
		return out
	}
	w.errorf(n.Line, p, "a merge key (<<) needs a mapping or a list of mappings, got %s", nodeKindName(n))
	return nil
}

// fieldInfo is one decodable field of a struct: the index path through
// inlined embedded structs.
type fieldInfo struct {
	index []int
}

var fieldCache sync.Map // reflect.Type → map[string]fieldInfo

// fieldsOf returns the JSON fields of struct type t, with inlined embedded
// structs (TypeMeta) promoted as encoding/json does.
func fieldsOf(t reflect.Type) map[string]fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]fieldInfo)
	}
	out := map[string]fieldInfo{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			idx := append(append([]int(nil), prefix...), i)
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = f.Name
			}
			out[name] = fieldInfo{index: idx}
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.MappingNode {
		w.mismatch(n, p, "expected a mapping, got %s", nodeKindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	for _, e := range w.entries(n, p, false) {
		name := e.key.Value
		fp := p.child(name)
		f, ok := fields[name]
		if !ok {
			if ignorable(v.Type(), p, name, e.val) {
				continue
			}
			w.errorf(e.key.Line, fp, "%s", unknownFieldMessage(v.Type(), name, fields))
			continue
		}
		w.doc.lines[fp] = e.key.Line
		w.decode(e.val, v.FieldByIndex(f.index), fp)
	}
}

// ignorable accepts the empty leftovers that `kubectl create --dry-run -o
// yaml` and `kubectl get -o yaml` write into manifests people commit:
// "creationTimestamp: null" and "status: {}". They say nothing, so
// rejecting them would only make copy-pasted manifests fail; a status with
// content is still an error, since status is observed, not declared.
func ignorable(t reflect.Type, p fieldPath, name string, val *yaml.Node) bool {
	if val.Kind == yaml.AliasNode && val.Alias != nil {
		val = val.Alias
	}
	empty := isNull(val) || (val.Kind == yaml.MappingNode && len(val.Content) == 0)
	switch {
	case t == objectMetaType && name == "creationTimestamp":
		return isNull(val)
	case p == "" && name == "status":
		return empty
	}
	return false
}

// unsupportedFields are Kubernetes fields of the supported types that
// Stevedore does not implement, keyed by Go type name; they get a clearer
// message than a typo does.
var unsupportedFields = map[string][]string{
	"ObjectMeta": {"generateName", "uid", "resourceVersion", "generation", "deletionTimestamp",
		"deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink"},
	"PodSpec": {"volumes", "initContainers", "ephemeralContainers", "activeDeadlineSeconds", "dnsPolicy",
		"serviceAccountName", "serviceAccount", "automountServiceAccountToken", "hostNetwork", "hostPID",
		"hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "subdomain",
		"priorityClassName", "priority", "dnsConfig", "readinessGates", "runtimeClassName",
		"enableServiceLinks", "preemptionPolicy", "overhead", "setHostnameAsFQDN", "os", "hostUsers",
		"schedulingGates", "resourceClaims", "hostAliases"},
	"Container": {"envFrom", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
		"startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
		"securityContext", "stdin", "stdinOnce", "tty", "resizePolicy", "restartPolicy"},
	"EnvVar":                   {"valueFrom"},
	"NodeSpec":                 {"podCIDR", "podCIDRs", "providerID", "configSource", "externalID"},
	"Resources":                {"claims"},
	"PodAffinityTerm":          {"namespaceSelector", "matchLabelKeys", "mismatchLabelKeys"},
	"TopologySpreadConstraint": {"nodeAffinityPolicy", "nodeTaintsPolicy", "matchLabelKeys"},
}

func unknownFieldMessage(t reflect.Type, name string, fields map[string]fieldInfo) string {
	for _, f := range unsupportedFields[t.Name()] {
		if f == name {
			return "field not supported by Stevedore"
		}
	}
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(f)); d < bestD {
			best, bestD = f, d
		}
	}
	if best != "" && bestD <= len(name)/3 {
		return fmt.Sprintf("unknown field (did you mean %q?)", best)
	}
	return "unknown field"
}

// editDistance is the Levenshtein distance, used only for "did you mean".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (w *walker) decodeMap(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.MappingNode {
		w.mismatch(n, p, "expected a mapping, got %s", nodeKindName(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, e := range w.entries(n, p, true) {
		if isNull(e.key) {
			w.errorf(e.key.Line, p, "a key must not be null")
			continue
		}
		kp := p.key(e.key.Value)
		w.doc.lines[kp] = e.key.Line
		ev := reflect.New(v.Type().Elem()).Elem()
		w.decode(e.val, ev, kp)
		m.SetMapIndex(reflect.ValueOf(e.key.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

func (w *walker) decodeString(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			v.SetString(n.Value)
			return
		case "!!int", "!!float", "!!bool":
			// Kubernetes rejects these too (its YAML becomes JSON first);
			// saying how to fix it saves a round trip.
			w.mismatch(n, p, "expected a string, got %s (quote it: %q)", nodeKindName(n), n.Value)
			return
		}
	}
	w.mismatch(n, p, "expected a string, got %s", nodeKindName(n))
}

// yaml11Bools are YAML 1.1's spellings of booleans, which Kubernetes' YAML
// parser accepts for boolean fields; go.yaml.in/yaml/v3 reads them as strings.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

func (w *walker) decodeBool(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				v.SetBool(b)
				return
			}
		case "!!str":
			if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
				v.SetBool(b)
				return
			}
		}
	}
	w.mismatch(n, p, "expected a boolean, got %s", nodeKindName(n))
}

func (w *walker) decodeInt(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		w.mismatch(n, p, "expected an integer, got %s", nodeKindName(n))
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		w.mismatch(n, p, "integer %s out of range", n.Value)
		return
	}
	v.SetInt(i)
}

func (w *walker) decodeQuantity(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.ScalarNode {
		w.mismatch(n, p, "expected a quantity such as 500m or 128Mi, got %s", nodeKindName(n))
		return
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float":
	default:
		w.mismatch(n, p, "expected a quantity such as 500m or 128Mi, got %s", nodeKindName(n))
		return
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(n.Value))
	if err != nil {
		w.mismatch(n, p, "invalid quantity %q: must be a number with an optional suffix such as 500m, 2, 1.5, 128Mi or 1G", n.Value)
		return
	}
	v.Set(reflect.ValueOf(q))
}

func (w *walker) decodeIntOrString(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil || i != int64(int32(i)) {
				w.mismatch(n, p, "integer %s out of range", n.Value)
				return
			}
			v.Set(reflect.ValueOf(FromInt(int32(i))))
			return
		case "!!str":
			v.Set(reflect.ValueOf(FromString(n.Value)))
			return
		}
	}
	w.mismatch(n, p, "expected an integer or a string such as \"25%%\", got %s", nodeKindName(n))
}
