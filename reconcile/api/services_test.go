package api

import (
	"encoding/json"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestServiceJSONShape pins the v1 field names people's scripts read.
func TestServiceJSONShape(t *testing.T) {
	s := Service{APIVersion: "v1", Kind: KindService, Metadata: ObjectMeta{Name: "web", Namespace: "shop"},
		Spec: ServiceSpec{Type: "NodePort", ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}, SessionAffinity: "None",
			Ports: []ServicePort{{Name: "http", Protocol: "TCP", Port: 80, TargetPort: spec.FromString("http"), NodePort: 30080},
				{Protocol: "UDP", Port: 53, TargetPort: spec.FromInt(5353)}}}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},` +
		`"spec":{"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],` +
		`"ports":[{"name":"http","nodePort":30080,"port":80,"protocol":"TCP","targetPort":"http"},{"port":53,"protocol":"UDP","targetPort":5353}],` +
		`"sessionAffinity":"None","type":"NodePort"},"status":{"loadBalancer":{}}}`
	if string(b) != want {
		t.Errorf("Service JSON\n got %s\nwant %s", b, want)
	}
	e := Endpoints{APIVersion: "v1", Kind: KindEndpoints, Metadata: ObjectMeta{Name: "web", Namespace: "shop"},
		Subsets: []EndpointSubset{{
			Addresses:         []EndpointAddress{{IP: "10.244.1.5", NodeName: "node-a", TargetRef: &ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-0"}}},
			NotReadyAddresses: []EndpointAddress{{IP: "10.244.1.6"}},
			Ports:             []EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}}}}}
	b, _ = json.Marshal(e)
	want = `{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web","namespace":"shop"},"subsets":[{` +
		`"addresses":[{"ip":"10.244.1.5","nodeName":"node-a","targetRef":{"kind":"Pod","name":"web-0","namespace":"shop"}}],` +
		`"notReadyAddresses":[{"ip":"10.244.1.6"}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}]}`
	if string(b) != want {
		t.Errorf("Endpoints JSON\n got %s\nwant %s", b, want)
	}
}
