package spec

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var (
	docSeparatorRE = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)
	serviceKindRE  = regexp.MustCompile(`(?m)^kind:[ \t]*Service[ \t]*$`)
	nsKindRE       = regexp.MustCompile(`(?m)^kind:[ \t]*Namespace[ \t]*$`)
)

// refusedServices are the Services of testdata/real that ask for what
// Stevedore does not implement, and why.
var refusedServices = map[string]string{
	"Service default/frontend-external": "LoadBalancer",
	"Service default/guestbook":         "LoadBalancer",
}

// TestRealManifests loads each repository of testdata/real (public
// projects' manifests, verbatim) and compares the outcome with its golden
// file; then loads the Services of each alone (with the Namespaces they
// live in), which must all load but
// those in refusedServices, whose only error must be their type.
func TestRealManifests(t *testing.T) {
	dirs, err := filepath.Glob("testdata/real/*")
	if err != nil {
		t.Fatal(err)
	}
	services := 0
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, err := ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			set, lerr := Load(files)
			checkGolden(t, dir+".golden", renderLoad(set, lerr))

			only := map[string][]byte{}
			n := 0
			for name, b := range files {
				var docs []string
				for _, d := range docSeparatorRE.Split(string(b), -1) {
					switch {
					case serviceKindRE.MatchString(d):
						docs = append(docs, d)
						n++
					case nsKindRE.MatchString(d):
						docs = append(docs, d) // what the Services live in
					}
				}
				if len(docs) > 0 {
					only[name] = []byte(strings.Join(docs, "\n---\n"))
				}
			}
			services += n
			set, err = Load(only)
			var list ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Fatal(err)
			}
			for _, e := range list {
				if why, ok := refusedServices[e.Object]; !ok || e.Field != "spec.type" || !strings.Contains(e.Message, why) {
					t.Errorf("a real Service is refused: %v", e)
				}
			}
			if err == nil && len(set.OfKind(KindService)) != n {
				t.Errorf("loaded %d Services of %d", len(set.OfKind(KindService)), n)
			}
		})
	}
	if services < 20 {
		t.Errorf("found %d Services in testdata/real, want at least 20", services)
	}
}

// checkGolden compares got with the file at name, or rewrites it.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	if *rewrite {
		if err := os.WriteFile(name, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -run TestRealManifests -rewrite)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test ./spec -run TestRealManifests -rewrite and review the diff):\n%s", name, got)
	}
}

// TestRealProbes loads microservices-demo's manifests without the one
// object Stevedore refuses (the LoadBalancer Service), so that their
// probes, volumes, init containers, security contexts and service accounts,
// which the golden file cannot show (a revision with an error loads no
// object), go through validation as real projects write them.
func TestRealProbes(t *testing.T) {
	b, err := os.ReadFile("testdata/real/microservices-demo/kubernetes-manifests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	written, docs := 0, 0
	for {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		root := n.Content[0]
		kind, _, _ := scalarField(root, "kind")
		if sp := mappingField(root, "spec"); kind == KindService && sp != nil {
			if typ, _, _ := scalarField(sp, "type"); typ == ServiceTypeLoadBalancer {
				continue
			}
		}
		if kind == KindDeployment {
			ps := mappingField(mappingField(mappingField(root, "spec"), "template"), "spec")
			for _, c := range valueOf(ps, "containers").Content {
				for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
					if valueOf(c, probe) != nil {
						written++
					}
				}
			}
		}
		docs++
		if err := enc.Encode(&n); err != nil {
			t.Fatal(err)
		}
	}
	set, err := Load(map[string][]byte{"kubernetes-manifests.yaml": out.Bytes()})
	if err != nil {
		t.Fatalf("microservices-demo without its LoadBalancer Service does not load:\n%v", err)
	}
	if len(set.Objects) != docs {
		t.Errorf("loaded %d objects of %d", len(set.Objects), docs)
	}
	if n := len(set.OfKind(KindServiceAccount)); n != 11 {
		t.Errorf("loaded %d ServiceAccounts, want 11", n)
	}
	loaded := 0
	byName := map[string]*Container{}
	for _, o := range set.OfKind(KindDeployment) {
		d := o.(*Deployment)
		c := &d.Spec.Template.Spec.Containers[0]
		byName[d.Name] = c
		for _, p := range []*Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p != nil {
				loaded++
			}
		}
	}
	if loaded != written || loaded < 20 {
		t.Errorf("loaded %d probes, the manifests have %d (want at least 20)", loaded, written)
	}
	if p := byName["adservice"].ReadinessProbe; p == nil || p.GRPC == nil || p.GRPC.Port != 9555 || p.PeriodSeconds != 15 || p.InitialDelaySeconds != 20 {
		t.Errorf("adservice readinessProbe = %+v", p)
	}
	if p := byName["redis-cart"].LivenessProbe; p == nil || p.TCPSocket == nil || p.TCPSocket.Port != FromInt(6379) || p.PeriodSeconds != 5 {
		t.Errorf("redis-cart livenessProbe = %+v", p)
	}
	if sc := byName["frontend"].SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != CapabilityAll {
		t.Errorf("frontend securityContext = %+v", sc)
	}
	if p := byName["frontend"].ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/_healthz" ||
		len(p.HTTPGet.HTTPHeaders) != 1 || p.HTTPGet.HTTPHeaders[0] != (HTTPHeader{Name: "Cookie", Value: "shop_session-id=x-readiness-probe"}) {
		t.Errorf("frontend readinessProbe = %+v", p)
	}
}

// valueOf returns the value of key name in mapping m, or nil.
func valueOf(m *yaml.Node, name string) *yaml.Node {
	if m == nil {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i+1]
		}
	}
	return nil
}

// TestRealStorage loads kubernetes/examples' model-serving-tensorflow with
// its hostPath PersistentVolume annotated as the policy asks (its only
// error as committed upstream, see the golden file), and checks the claim,
// the volume and the mount as Kubernetes reads them.
func TestRealStorage(t *testing.T) {
	files, err := ReadDir("testdata/real/kubernetes-examples-model-serving-tensorflow")
	if err != nil {
		t.Fatal(err)
	}
	files["pv.yaml"] = bytes.Replace(files["pv.yaml"], []byte("  name: my-model-pv\n"),
		[]byte("  name: my-model-pv\n  annotations: {stevedore.dev/allow-host-paths: \"true\"}\n"), 1)
	set, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	pv := set.Objects[ObjectKey{Kind: KindPersistentVolume, Name: "my-model-pv"}].(*PersistentVolume)
	claim := set.Objects[ObjectKey{Kind: KindPersistentVolumeClaim, Namespace: "default", Name: "my-model-pvc"}].(*PersistentVolumeClaim)
	d := set.Objects[ObjectKey{Kind: KindDeployment, Namespace: "default", Name: "tf-serving"}].(*Deployment)
	if pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != "/mnt/models/my_model" || pv.Spec.PersistentVolumeReclaimPolicy != ReclaimRetain {
		t.Errorf("volume = %+v", pv.Spec)
	}
	if claim.Spec.VolumeName != "my-model-pv" || claim.Spec.AccessModes[0] != ReadOnlyMany {
		t.Errorf("claim = %+v", claim.Spec)
	}
	if got := ClaimNames(&d.Spec.Template.Spec); len(got) != 1 || got[0] != "my-model-pvc" {
		t.Errorf("claims of the Deployment = %v", got)
	}
}
