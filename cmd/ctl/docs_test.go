package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// TestEverythingDocumented checks that docs/ctl.md names every command and
// every flag.
func TestEverythingDocumented(t *testing.T) {
	// docs/ctl.md and the pages it splits off (ctl-get.md, ctl-rollout.md).
	var doc []byte
	pages, err := filepath.Glob("../../docs/ctl*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/ctl*.md: %v", err)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc = append(doc, b...)
	}
	root := newRoot(io.Discard, io.Discard, func(string) string { return "" })
	check := func(what string) {
		if !bytes.Contains(doc, []byte(what)) {
			t.Errorf("docs/ctl*.md do not mention %q", what)
		}
	}
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) { check("--" + f.Name) })
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		check("## ctl " + c.Name())
		c.Flags().VisitAll(func(f *pflag.Flag) {
			check("--" + f.Name)
			if f.Shorthand != "" {
				check("-" + f.Shorthand + ", --" + f.Name)
			}
		})
	}
}
