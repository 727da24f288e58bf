package spec

import (
	"strings"
	"testing"
)

func TestApplicationLoads(t *testing.T) {
	set, err := Load(map[string][]byte{"apps.yaml": []byte(`apiVersion: stevedore.dev/v1alpha1
kind: Application
metadata:
  name: team-a
spec:
  source:
    repoURL: https://git.example.com/team-a.git
    targetRevision: refs/heads/prod
    path: ./deploy/
---
apiVersion: stevedore.dev/v1alpha1
kind: Application
metadata: {name: team-b}
spec:
  source: {repoURL: /srv/git/b.git}
  prune: false
`)})
	if err != nil {
		t.Fatal(err)
	}
	apps := set.OfKind(KindApplication)
	if len(apps) != 2 {
		t.Fatalf("got %d applications", len(apps))
	}
	a, b := apps[0].(*Application), apps[1].(*Application)
	if s := a.Spec.Source; s.TargetRevision != "prod" || s.Path != "deploy" || !a.PruneEnabled() || a.Namespace != "" {
		t.Errorf("team-a defaulted to %+v prune=%v ns=%q", s, a.PruneEnabled(), a.Namespace)
	}
	if s := b.Spec.Source; s.TargetRevision != "main" || s.Path != "" || b.PruneEnabled() {
		t.Errorf("team-b defaulted to %+v prune=%v", s, b.PruneEnabled())
	}
}

func TestApplicationErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"metadata: {name: a}\nspec: {source: {path: x}}", `apps.yaml:4: Application a: spec.source.repoURL: required`},
		{"metadata: {name: a}\nspec: {source: {repoURL: r, targetRevision: v1..2}}", `spec.source.targetRevision: invalid value "v1..2": must be a branch name`},
		{"metadata: {name: a}\nspec: {source: {repoURL: r, targetRevision: HEAD}}", `must be a branch name (tags, commits and HEAD are not supported by Stevedore)`},
		{"metadata: {name: a}\nspec: {source: {repoURL: r, path: ../x}}", `spec.source.path: invalid value "../x": must stay inside the repository`},
		{"metadata: {name: A.b}\nspec: {source: {repoURL: r}}", `metadata.name: invalid value "A.b"`},
		{"metadata: {name: a, namespace: argocd}\nspec: {source: {repoURL: r}}", `metadata.namespace: must not be set: this kind is cluster-scoped`},
		{"metadata: {name: a}\nspec:\n  source: {repoURL: r}\n  syncPolicy: {}", `apps.yaml:6: Application a: spec.syncPolicy: unknown field`},
	} {
		_, err := Load(map[string][]byte{"apps.yaml": []byte("apiVersion: stevedore.dev/v1alpha1\nkind: Application\n" + tc.doc + "\n")})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.doc, err, tc.want)
		}
	}
	// An Argo CD Application is pointed at Stevedore's group.
	_, err := Load(map[string][]byte{"argo.yaml": []byte("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n")})
	if err == nil || !strings.Contains(err.Error(), "Application is stevedore.dev/v1alpha1") {
		t.Errorf("argo application: %v", err)
	}
}
