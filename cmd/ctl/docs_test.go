package main

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/spf13/pflag"
)

// TestEverythingDocumented checks that docs/ctl.md names every command and
// every flag.
func TestEverythingDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ctl.md")
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot(io.Discard, io.Discard, func(string) string { return "" })
	check := func(what string) {
		if !bytes.Contains(doc, []byte(what)) {
			t.Errorf("docs/ctl.md does not mention %q", what)
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
