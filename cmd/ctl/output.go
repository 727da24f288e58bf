package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// item is one object ctl get lists: its identity, its wire form (what the
// tables print) and its Kubernetes shape (what every other format prints,
// and what jsonpath, --sort-by and the selectors evaluate).
type item struct {
	kind      string // Pod, Deployment, ReplicationController, Node, Namespace
	namespace string
	name      string
	labels    map[string]string
	fields    fields.Set // what --field-selector may name
	wire      any
	kube      any
	generic   any // kube as JSON values, for jsonpath; computed when first needed
}

// resourceName is kubectl's TYPE/NAME prefix of a kind (-o name, get all).
func resourceName(kind string) string {
	switch kind {
	case "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet":
		return strings.ToLower(kind) + ".apps"
	case kindApplication:
		return "application.stevedore.dev"
	case "StorageClass":
		return "storageclass.storage.k8s.io"
	}
	return strings.ToLower(kind)
}

// genericValue returns the item's Kubernetes shape as plain JSON values
// (maps, slices, float64, string…), what kubectl's jsonpath sees.
func (it *item) genericValue() (any, error) {
	if it.generic == nil {
		v, err := toGeneric(it.kube)
		if err != nil {
			return nil, err
		}
		it.generic = v
	}
	return it.generic, nil
}

func toGeneric(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode json: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("failed to decode json: %w", err)
	}
	return out, nil
}

// outputFormat is a parsed -o.
type outputFormat struct {
	kind string // "", wide, json, yaml, name, jsonpath, custom-columns
	// jsonpath template, or the custom columns.
	jp      *jsonpath.JSONPath
	columns []customColumn
}

type customColumn struct {
	header string
	jp     *jsonpath.JSONPath
}

// structured reports whether the format prints Kubernetes-shaped objects.
func (f outputFormat) structured() bool {
	switch f.kind {
	case outJSON, outYAML, "jsonpath", "custom-columns":
		return true
	}
	return false
}

// parseOutput parses -o: wide, json, yaml, name, jsonpath=TEMPLATE,
// custom-columns=HEADER:PATH,…
func parseOutput(s string) (outputFormat, error) {
	switch s {
	case outTable, outWide, outJSON, outYAML, "name":
		return outputFormat{kind: s}, nil
	}
	name, arg, ok := strings.Cut(s, "=")
	switch {
	case ok && name == "jsonpath" && arg != "":
		jp, err := newJSONPath("jsonpath", arg)
		if err != nil {
			return outputFormat{}, err
		}
		return outputFormat{kind: "jsonpath", jp: jp}, nil
	case ok && name == "custom-columns":
		cols, err := parseColumns(arg)
		if err != nil {
			return outputFormat{}, err
		}
		return outputFormat{kind: "custom-columns", columns: cols}, nil
	case name == "jsonpath" || name == "custom-columns":
		return outputFormat{}, usageErr("%s format specified but no template given", name)
	}
	return outputFormat{}, usageErr("unknown output format %q: want wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=SPEC", s)
}

func newJSONPath(name, tmpl string) (*jsonpath.JSONPath, error) {
	jp := jsonpath.New(name)
	// kubectl's --allow-missing-template-keys defaults to true.
	jp.AllowMissingKeys(true)
	if err := jp.Parse(tmpl); err != nil {
		return nil, usageErr("failed to parse %s template %q: %v", name, tmpl, err)
	}
	return jp, nil
}

// relaxedPath accepts ".a.b", "a.b", "{.a.b}" as kubectl's custom-columns
// and --sort-by do, and returns "{.a.b}". Braces must be balanced: "{.a"
// is refused as kubectl refuses it, not read as ".a".
var relaxedPathRE = regexp.MustCompile(`^\{(\.?[^{}]+)\}$|^(\.?[^{}]+)$`)

func relaxedPath(p string) (string, error) {
	m := relaxedPathRE.FindStringSubmatch(p)
	if m == nil {
		return "", fmt.Errorf("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
	}
	inner := m[1] + m[2]
	if !strings.HasPrefix(inner, ".") {
		inner = "." + inner
	}
	return "{" + inner + "}", nil
}

func parseColumns(spec string) ([]customColumn, error) {
	if spec == "" {
		return nil, usageErr("custom-columns format specified but no custom columns given")
	}
	var cols []customColumn
	for _, part := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(part, ":")
		if !ok || header == "" || path == "" {
			return nil, usageErr("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", part)
		}
		p, err := relaxedPath(path)
		if err != nil {
			return nil, usageErr("custom-columns column %s: %v", header, err)
		}
		jp, err := newJSONPath(header, p)
		if err != nil {
			return nil, err
		}
		cols = append(cols, customColumn{header: header, jp: jp})
	}
	return cols, nil
}

// filterItems keeps the items matching the label and field selectors
// (kubectl's syntax: "app=web,tier!=db", "env in (a,b)", "!canary";
// "status.phase=Running,spec.nodeName!=node-a").
func filterItems(items []*item, labelSel, fieldSel string) ([]*item, error) {
	var ls labels.Selector
	if labelSel != "" {
		s, err := labels.Parse(labelSel)
		if err != nil {
			return nil, usageErr("failed to parse label selector %q: %v", labelSel, err)
		}
		ls = s
	}
	var fs fields.Selector
	if fieldSel != "" {
		s, err := fields.ParseSelector(fieldSel)
		if err != nil {
			return nil, usageErr("failed to parse field selector %q: %v", fieldSel, err)
		}
		fs = s
	}
	out := items[:0:0]
	for _, it := range items {
		if ls != nil && !ls.Matches(labels.Set(it.labels)) {
			continue
		}
		if fs != nil && !fs.Matches(it.fields) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// fieldLabels are the fields --field-selector may name, by kind: what
// each item's fields set holds.
var fieldLabels = map[string][]string{
	"Pod":                   {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.phase", "status.podIP"},
	"Deployment":            {"metadata.name", "metadata.namespace"},
	"ReplicationController": {"metadata.name", "metadata.namespace"},
	"Node":                  {"metadata.name", "spec.unschedulable"},
	"Namespace":             {"metadata.name", "status.phase"},
	kindApplication:         {"metadata.name"},
	kindEvent: {"metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
		"involvedObject.uid", "involvedObject.fieldPath", "reason", "type", "source", "reportingComponent"},
}

// checkFieldSelector refuses a field selector naming a field kind does not
// support, as the Kubernetes API server does, even when nothing is listed.
func checkFieldSelector(kind, sel string) error {
	if sel == "" {
		return nil
	}
	fs, err := fields.ParseSelector(sel)
	if err != nil {
		return usageErr("failed to parse field selector %q: %v", sel, err)
	}
	for _, r := range fs.Requirements() {
		if !slices.Contains(fieldLabels[kind], r.Field) {
			return usageErr("field label not supported for %s: %s (supported: %s)", resourceName(kind), r.Field, strings.Join(fieldLabels[kind], ", "))
		}
	}
	return nil
}

// sortItems sorts by the value of a jsonpath expression on each item, as
// kubectl's --sort-by: numbers numerically, timestamps in time order,
// everything else as text; an item without the field sorts first.
func sortItems(items []*item, expr string) error {
	p, err := relaxedPath(expr)
	if err != nil {
		return usageErr("--sort-by %q: %v", expr, err)
	}
	jp, err := newJSONPath("sort-by", p)
	if err != nil {
		return err
	}
	keys := make([]any, len(items))
	for i, it := range items {
		g, err := it.genericValue()
		if err != nil {
			return err
		}
		res, err := jp.FindResults(g)
		if err != nil {
			return usageErr("--sort-by %q: %v", expr, err)
		}
		if len(res) > 0 && len(res[0]) > 0 {
			if len(res[0]) > 1 {
				return usageErr("--sort-by %q: the expression yields %d values for %s/%s; sorting needs one", expr, len(res[0]), resourceName(it.kind), it.name)
			}
			keys[i] = res[0][0].Interface()
		}
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return lessValue(keys[idx[a]], keys[idx[b]]) })
	sorted := make([]*item, len(items))
	for i, j := range idx {
		sorted[i] = items[j]
	}
	copy(items, sorted)
	return nil
}

func lessValue(a, b any) bool {
	switch {
	case a == nil:
		return b != nil
	case b == nil:
		return false
	}
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return x < y
		}
	}
	if x, ok := a.(bool); ok {
		if y, ok := b.(bool); ok {
			return !x && y
		}
	}
	as, bs := fmt.Sprint(a), fmt.Sprint(b)
	if ta, err := time.Parse(time.RFC3339, as); err == nil {
		if tb, err := time.Parse(time.RFC3339, bs); err == nil {
			return ta.Before(tb)
		}
	}
	return as < bs
}

// writeStructured prints items as json, yaml, name, jsonpath or
// custom-columns: one object alone when single is set (ctl get pod NAME),
// else a v1 List.
func writeStructured(w io.Writer, f outputFormat, items []*item, single bool) error {
	switch f.kind {
	case "name":
		for _, it := range items {
			fmt.Fprintf(w, "%s/%s\n", resourceName(it.kind), it.name)
		}
		return nil
	case "custom-columns":
		return writeColumns(w, f.columns, items, true)
	}
	one := single && len(items) == 1
	switch f.kind {
	case outJSON:
		if one {
			return writeJSON(w, items[0].kube)
		}
		return writeJSONList(w, items)
	case outYAML:
		if one {
			return writeYAML(w, items[0].kube)
		}
		return writeYAMLList(w, items)
	case "jsonpath":
		var g any
		if one {
			var err error
			if g, err = items[0].genericValue(); err != nil {
				return err
			}
		} else {
			// The List as JSON values, built from each item's own.
			objs := make([]any, len(items))
			for i, it := range items {
				o, err := it.genericValue()
				if err != nil {
					return err
				}
				objs[i] = o
			}
			g = map[string]any{"apiVersion": "v1", "kind": "List", "items": objs, "metadata": map[string]any{"resourceVersion": ""}}
		}
		return executeJSONPath(w, f.jp, g)
	}
	return fmt.Errorf("output format %q does not print objects", f.kind)
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ") // kubectl's indentation
	if err := enc.Encode(v); err != nil {
		return &exitErr{code: exitError, err: fmt.Errorf("failed to encode json: %w", err)}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeJSONList writes the v1 List of items as writeJSON would, one item at
// a time: a list of 10,000 pods is never one 30 MB buffer grown and copied
// (and indented) in memory.
func writeJSONList(w io.Writer, items []*item) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if len(items) == 0 {
		bw.WriteString("{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n")
	} else {
		bw.WriteString("{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n")
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("        ", "    ")
		for i, it := range items {
			buf.Reset()
			if err := enc.Encode(it.kube); err != nil {
				return &exitErr{code: exitError, err: fmt.Errorf("failed to encode json: %w", err)}
			}
			bw.WriteString("        ")
			bw.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
			if i < len(items)-1 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
		}
		bw.WriteString("    ],\n")
	}
	bw.WriteString("    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n")
	return bw.Flush()
}

// writeYAMLList writes the v1 List of items as writeYAML would, one item at
// a time.
func writeYAMLList(w io.Writer, items []*item) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if len(items) == 0 {
		bw.WriteString("apiVersion: v1\nitems: []\n")
	} else {
		bw.WriteString("apiVersion: v1\nitems:\n")
		for _, it := range items {
			b, err := yaml.Marshal(it.kube)
			if err != nil {
				return &exitErr{code: exitError, err: fmt.Errorf("failed to encode yaml: %w", err)}
			}
			for i, line := range bytes.SplitAfter(b, []byte("\n")) {
				if len(line) == 0 {
					continue
				}
				if i == 0 {
					bw.WriteString("- ")
				} else if len(line) > 1 {
					bw.WriteString("  ")
				}
				bw.Write(line)
			}
		}
	}
	bw.WriteString("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
	return bw.Flush()
}

func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return &exitErr{code: exitError, err: fmt.Errorf("failed to encode yaml: %w", err)}
	}
	_, err = w.Write(b)
	return err
}

func executeJSONPath(w io.Writer, jp *jsonpath.JSONPath, data any) error {
	if err := jp.Execute(w, data); err != nil {
		return &exitErr{code: exitError, err: fmt.Errorf("error executing jsonpath: %w", err)}
	}
	return nil
}

// writeColumns prints custom columns: a missing value is "<none>", several
// values are joined by commas, as kubectl does.
func writeColumns(w io.Writer, cols []customColumn, items []*item, header bool) error {
	tw := newTable(w)
	if header {
		hs := make([]string, len(cols))
		for i, c := range cols {
			hs[i] = c.header
		}
		row(tw, hs...)
	}
	for _, it := range items {
		g, err := it.genericValue()
		if err != nil {
			return err
		}
		vals := make([]string, len(cols))
		for i, c := range cols {
			res, err := c.jp.FindResults(g)
			if err != nil {
				return &exitErr{code: exitError, err: fmt.Errorf("column %s: %w", c.header, err)}
			}
			var parts []string
			for _, r := range res {
				for _, v := range r {
					var b bytes.Buffer
					if err := c.jp.PrintResults(&b, []reflect.Value{v}); err != nil {
						return &exitErr{code: exitError, err: fmt.Errorf("column %s: %w", c.header, err)}
					}
					parts = append(parts, b.String())
				}
			}
			vals[i] = "<none>"
			if len(parts) > 0 {
				vals[i] = strings.Join(parts, ",")
			}
		}
		row(tw, vals...)
	}
	return tw.Flush()
}
