package spec

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// oldWorkload is a workload of kind in apiVersion av, leaving out every
// field that is defaulted, with extra lines added to its spec (and the
// headless Service a StatefulSet needs).
func oldWorkload(av, kind, extra string) []byte {
	s := "apiVersion: " + av + "\nkind: " + kind + "\nmetadata:\n  name: web\nspec:\n"
	if kind == KindStatefulSet {
		s += "  serviceName: web\n"
	}
	s += extra + `  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx
`
	if kind == KindStatefulSet {
		s += "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: None\n  selector: {app: web}\n  ports: [{port: 80}]\n"
	}
	return []byte(s)
}

// TestLegacyDefaults loads a workload leaving every defaulted field out in
// each older apiVersion and checks the apps/v1 object it becomes against
// that version's defaults in Kubernetes 1.15.
func TestLegacyDefaults(t *testing.T) {
	withSelector := "  selector:\n    matchLabels: {app: web}\n"
	for _, tc := range []struct {
		av, kind, extra string
		check           func(t *testing.T, o Object)
	}{
		{ExtensionsV1beta1, KindDeployment, "", func(t *testing.T, o Object) {
			s := o.(*Deployment).Spec
			ru := s.Strategy.RollingUpdate
			if s.Strategy.Type != RollingUpdateDeploymentStrategyType || *ru.MaxUnavailable != FromInt(1) || *ru.MaxSurge != FromInt(1) {
				t.Errorf("strategy = %+v %v %v, want RollingUpdate 1/1", s.Strategy, ru.MaxUnavailable, ru.MaxSurge)
			}
			if *s.RevisionHistoryLimit != math.MaxInt32 || *s.ProgressDeadlineSeconds != math.MaxInt32 {
				t.Errorf("history %d, deadline %d: want MaxInt32 (unlimited)", *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds)
			}
		}},
		{ExtensionsV1beta1, KindDeployment, "  strategy:\n    rollingUpdate: {maxSurge: 30%}\n", func(t *testing.T, o Object) {
			ru := o.(*Deployment).Spec.Strategy.RollingUpdate
			if *ru.MaxUnavailable != FromInt(1) || *ru.MaxSurge != FromString("30%") {
				t.Errorf("rollingUpdate = %v %v, want 1, 30%%", ru.MaxUnavailable, ru.MaxSurge)
			}
		}},
		{AppsV1beta1, KindDeployment, "", func(t *testing.T, o Object) {
			s := o.(*Deployment).Spec
			ru := s.Strategy.RollingUpdate
			if *ru.MaxUnavailable != FromString("25%") || *ru.MaxSurge != FromString("25%") || *s.RevisionHistoryLimit != 2 || *s.ProgressDeadlineSeconds != 600 {
				t.Errorf("spec = %v %v %d %d, want 25%% 25%% 2 600", ru.MaxUnavailable, ru.MaxSurge, *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds)
			}
		}},
		{AppsV1beta2, KindDeployment, withSelector, func(t *testing.T, o Object) {
			s := o.(*Deployment).Spec
			ru := s.Strategy.RollingUpdate
			if *ru.MaxUnavailable != FromString("25%") || *s.RevisionHistoryLimit != 10 || *s.ProgressDeadlineSeconds != 600 || len(o.GetObjectMeta().Labels) != 0 {
				t.Errorf("spec = %v %d %d, labels %v: want apps/v1's defaults", ru.MaxUnavailable, *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds, o.GetObjectMeta().Labels)
			}
		}},
		{ExtensionsV1beta1, KindDaemonSet, "", func(t *testing.T, o Object) {
			s := o.(*DaemonSet).Spec
			if s.UpdateStrategy.Type != OnDeleteDaemonSetStrategyType || s.UpdateStrategy.RollingUpdate != nil || *s.RevisionHistoryLimit != 10 {
				t.Errorf("spec = %+v, want OnDelete", s.UpdateStrategy)
			}
		}},
		// A rollingUpdate without a type: Kubernetes 1.15 defaulted the
		// type to OnDelete and its validation ignored the rollingUpdate.
		{ExtensionsV1beta1, KindDaemonSet, "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 2}\n", func(t *testing.T, o Object) {
			if s := o.(*DaemonSet).Spec.UpdateStrategy; s.Type != OnDeleteDaemonSetStrategyType || s.RollingUpdate != nil {
				t.Errorf("updateStrategy = %+v, want OnDelete alone", s)
			}
		}},
		{ExtensionsV1beta1, KindDaemonSet, "  templateGeneration: 4\n", func(t *testing.T, o Object) {
			if o.(*DaemonSet).Spec.UpdateStrategy.Type != OnDeleteDaemonSetStrategyType {
				t.Errorf("updateStrategy = %+v", o.(*DaemonSet).Spec.UpdateStrategy)
			}
		}},
		{AppsV1beta2, KindDaemonSet, withSelector, func(t *testing.T, o Object) {
			s := o.(*DaemonSet).Spec
			if s.UpdateStrategy.Type != RollingUpdateDaemonSetStrategyType || *s.UpdateStrategy.RollingUpdate.MaxUnavailable != FromInt(1) {
				t.Errorf("updateStrategy = %+v, want RollingUpdate", s.UpdateStrategy)
			}
		}},
		{ExtensionsV1beta1, KindReplicaSet, "", func(t *testing.T, o Object) {
			if *o.(*ReplicaSet).Spec.Replicas != 1 {
				t.Errorf("replicas = %d", *o.(*ReplicaSet).Spec.Replicas)
			}
		}},
		{AppsV1beta2, KindReplicaSet, withSelector, func(t *testing.T, o Object) {}},
		{AppsV1beta1, KindStatefulSet, "", func(t *testing.T, o Object) {
			s := o.(*StatefulSet).Spec
			if s.UpdateStrategy.Type != OnDeleteStatefulSetStrategyType || s.UpdateStrategy.RollingUpdate != nil || s.PodManagementPolicy != OrderedReadyPodManagement || *s.RevisionHistoryLimit != 10 {
				t.Errorf("spec = %+v %s, want OnDelete, OrderedReady", s.UpdateStrategy, s.PodManagementPolicy)
			}
		}},
		{AppsV1beta2, KindStatefulSet, withSelector, func(t *testing.T, o Object) {
			s := o.(*StatefulSet).Spec
			if s.UpdateStrategy.Type != RollingUpdateStatefulSetStrategyType || *s.UpdateStrategy.RollingUpdate.Partition != 0 {
				t.Errorf("updateStrategy = %+v, want RollingUpdate", s.UpdateStrategy)
			}
		}},
	} {
		t.Run(tc.av+" "+tc.kind, func(t *testing.T) {
			set, err := Load(map[string][]byte{"w.yaml": oldWorkload(tc.av, tc.kind, tc.extra)})
			if err != nil {
				t.Fatal(err)
			}
			key := ObjectKey{Kind: tc.kind, Namespace: DefaultNamespace, Name: "web"}
			o := set.Objects[key]
			if o.GetTypeMeta().APIVersion != AppsV1 {
				t.Errorf("apiVersion = %q, want apps/v1", o.GetTypeMeta().APIVersion)
			}
			if src := set.Sources[key]; src != (Source{File: "w.yaml", Line: 1, APIVersion: tc.av}) {
				t.Errorf("source = %+v", src)
			}
			sel := reflectSelector(o)
			if sel == nil || !cmp.Equal(sel.MatchLabels, map[string]string{"app": "web"}) {
				t.Errorf("selector = %+v, want app=web", sel)
			}
			if tc.av != AppsV1beta2 && !cmp.Equal(o.GetObjectMeta().Labels, map[string]string{"app": "web"}) {
				t.Errorf("labels = %v, want the template's", o.GetObjectMeta().Labels)
			}
			want := []Warning{{File: "w.yaml", Line: 1, Object: tc.kind + " default/web",
				Message: tc.av + " " + tc.kind + " is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 " + tc.kind}}
			if diff := cmp.Diff(want, set.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if errs := Validate(o); errs != nil {
				t.Errorf("Validate: %v", errs)
			}
			tc.check(t, o)
		})
	}
}

func reflectSelector(o Object) *LabelSelector {
	switch o := o.(type) {
	case *Deployment:
		return o.Spec.Selector
	case *DaemonSet:
		return o.Spec.Selector
	case *ReplicaSet:
		return o.Spec.Selector
	case *StatefulSet:
		return o.Spec.Selector
	}
	return nil
}

// TestLegacyErrors checks that problems in a manifest of an older
// apiVersion are reported with its file, line, object and field path, and
// that what Stevedore does not carry over is refused by name.
func TestLegacyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  []byte
		want Error
	}{
		{"rollbackTo", oldWorkload(ExtensionsV1beta1, KindDeployment, "  rollbackTo:\n    revision: 3\n"),
			Error{File: "w.yaml", Line: 6, Object: "Deployment default/web", Field: "spec.rollbackTo", Message: "field not supported by Stevedore: rollbackTo was a deprecated imperative request (gone from apps/v1); roll back with `ctl rollout undo`, which commits the old template, or revert the commit"}},
		{"empty rollbackTo", oldWorkload(AppsV1beta1, KindDeployment, "  rollbackTo: {}\n"),
			Error{File: "w.yaml", Line: 6, Object: "Deployment default/web", Field: "spec.rollbackTo"}},
		{"unknown field", oldWorkload(ExtensionsV1beta1, KindDeployment, "  replica: 3\n"),
			Error{File: "w.yaml", Line: 6, Object: "Deployment default/web", Field: "spec.replica", Message: `unknown field (did you mean "replicas"?)`}},
		{"misplaced field", oldWorkload(ExtensionsV1beta1, KindDeployment, "  updateStrategy: {}\n"),
			Error{File: "w.yaml", Line: 6, Object: "Deployment default/web", Field: "spec.updateStrategy", Message: "unknown field: a Deployment's is strategy"}},
		{"unsupported field", oldWorkload(ExtensionsV1beta1, KindDaemonSet, "  replicas: 2\n"),
			Error{File: "w.yaml", Line: 6, Object: "DaemonSet default/web", Field: "spec.replicas"}},
		{"type mismatch", oldWorkload(AppsV1beta1, KindStatefulSet, "  replicas: two\n"),
			Error{File: "w.yaml", Line: 7, Object: "StatefulSet default/web", Field: "spec.replicas", Message: "expected an integer, got a string"}},
		{"selector required in apps/v1beta2", oldWorkload(AppsV1beta2, KindDeployment, ""),
			Error{File: "w.yaml", Line: 5, Object: "Deployment default/web", Field: "spec.selector"}},
		{"validation", oldWorkload(ExtensionsV1beta1, KindDeployment, "  strategy:\n    type: Recreate\n    rollingUpdate: {maxSurge: 2}\n"),
			Error{File: "w.yaml", Line: 8, Object: "Deployment default/web", Field: "spec.strategy.rollingUpdate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(map[string][]byte{"w.yaml": tc.doc})
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("err = %v, want one error", err)
			}
			got := *list[0]
			if tc.want.Message == "" {
				got.Message = ""
			}
			if got != tc.want {
				t.Errorf("got  %v\nwant %v", &got, &tc.want)
			}
		})
	}
	// A kind of those groups that does not load stays unsupported.
	_, err := Load(map[string][]byte{"j.yaml": []byte("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: x\n")})
	if err == nil || !strings.Contains(err.Error(), `unsupported apiVersion/kind "extensions/v1beta1 Ingress"`) {
		t.Errorf("Ingress: %v", err)
	}
}

// TestLegacyCached loads a revision with older objects twice through the
// cache: the reused documents keep their Source and warning.
func TestLegacyCached(t *testing.T) {
	files := map[string][]byte{"w.yaml": oldWorkload(ExtensionsV1beta1, KindDeployment, "")}
	set1, c, err := LoadCached(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	set2, _, err := LoadCached(files, c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 {
		t.Fatalf("cache holds %d documents", c.Len())
	}
	if diff := cmp.Diff(set1, set2); diff != "" {
		t.Errorf("cached load differs (-first +second):\n%s", diff)
	}
	if len(set2.Warnings) != 1 || set2.Sources[ObjectKey{Kind: KindDeployment, Namespace: DefaultNamespace, Name: "web"}].APIVersion != ExtensionsV1beta1 {
		t.Errorf("cached: warnings %v, sources %v", set2.Warnings, set2.Sources)
	}
}

// marshalDoc renders o as one YAML document (JSON is YAML).
func marshalDoc(t *testing.T, o any) string {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
