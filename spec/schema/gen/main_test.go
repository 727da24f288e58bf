package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedFileIsCurrent regenerates the schema from spec's source and
// compares it with the checked-in file, so a change to spec's types or doc
// comments without `go generate ./spec/schema` fails here.
func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../zz_generated.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("spec/schema/zz_generated.go is stale: run `go generate ./spec/schema` and commit the result")
	}
}

// copySpec copies package spec's non-test sources into a temporary
// directory, applying edit to types.go.
func copySpec(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	paths, err := filepath.Glob("../../*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "types.go" {
			b = []byte(edit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUndocumentedFieldFails: every field explain can reach needs a doc
// comment, and the error names the Go field and its JSON name.
func TestUndocumentedFieldFails(t *testing.T) {
	const line = "\t// Image is the image reference to run, e.g. \"registry.local:5000/web:1.2\".\n"
	dir := copySpec(t, func(s string) string {
		if !strings.Contains(s, line) {
			t.Fatal("types.go no longer has Container.Image's comment; update the test")
		}
		return strings.Replace(s, line, "", 1)
	})
	_, err := Generate(dir)
	if err == nil || !strings.Contains(err.Error(), "spec.Container.Image (image) has no doc comment") {
		t.Fatalf("Generate without Image's comment = %v", err)
	}
}

// TestFieldChangesShowInSchema: a new field and a +optional marker reach
// the generated schema (and the marker does not reach the description).
func TestFieldChangesShowInSchema(t *testing.T) {
	const anchor = "\tWorkingDir string `json:\"workingDir,omitempty\"`\n"
	dir := copySpec(t, func(s string) string {
		if !strings.Contains(s, anchor) {
			t.Fatal("types.go no longer has Container.WorkingDir; update the test")
		}
		return strings.Replace(s, anchor, anchor+"\t// StopSignal is the signal that stops the container.\n\tStopSignal string `json:\"stopSignal\"`\n"+
			"\t// Stdin keeps stdin open.\n\t// +optional\n\tStdin bool `json:\"stdin\"`\n", 1)
	})
	b, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{Name: "stopSignal", Type: "string", Required: true, Doc: "stopSignal is the signal that stops the container."}`,
		`{Name: "stdin", Type: "boolean", Doc: "stdin keeps stdin open."}`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("generated schema lacks %s", want)
		}
	}
}
