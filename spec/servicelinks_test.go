package spec

import (
	"strings"
	"testing"
)

// TestServiceLinksKeepTemplateHash: enableServiceLinks became a field; a
// template writing Kubernetes' default, true, must hash as one without it,
// as it did when the field was accepted and dropped, or an upgrade would
// restart every such pod. false is another template.
func TestServiceLinksKeepTemplateHash(t *testing.T) {
	load := func(extra string) *Deployment {
		set := mustLoad(t, deployHead+"      containers: [{name: c, image: busybox}]\n"+extra)
		return set.OfKind(KindDeployment)[0].(*Deployment)
	}
	hash := func(extra string) string { return TemplateHash(&load(extra).Spec.Template) }
	plain := hash("")
	// The hash of this template before enableServiceLinks was a field: it
	// names running pods.
	if plain != "e2bd521538" {
		t.Errorf("hash = %s: the template hash of an unchanged manifest changed", plain)
	}
	if h := hash("      enableServiceLinks: true\n"); h != plain {
		t.Errorf("enableServiceLinks true: hash %s, want %s", h, plain)
	}
	if h := hash("      enableServiceLinks: false\n"); h == plain {
		t.Error("enableServiceLinks false hashes as true")
	}
	for extra, want := range map[string]bool{
		"":                                  true,
		"      enableServiceLinks: true\n":  true,
		"      enableServiceLinks: null\n":  true,
		"      enableServiceLinks: false\n": false,
		"      enableServiceLinks: False\n": false,
	} {
		s := &load(extra).Spec.Template.Spec
		if got := s.ServiceLinksEnabled(); got != want {
			t.Errorf("%q: ServiceLinksEnabled() = %t, want %t", extra, got, want)
		}
		if want && s.EnableServiceLinks != nil {
			t.Errorf("%q: stored %t, want unset", extra, *s.EnableServiceLinks)
		}
	}
}

func TestServiceLinksRejectsNonBool(t *testing.T) {
	_, err := loadOne(podHead + "  containers: [{name: c, image: busybox}]\n  enableServiceLinks: sometimes\n")
	if err == nil {
		t.Fatal("enableServiceLinks: sometimes loaded")
	} else if !strings.Contains(err.Error(), "spec.enableServiceLinks") {
		t.Errorf("error %v does not name spec.enableServiceLinks", err)
	}
}
