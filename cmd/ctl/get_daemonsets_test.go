package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// daemonSetFake is the golden fake with a DaemonSet rolling out on three
// nodes (one pod of the new revision, one Pending) beside the Deployment.
func daemonSetFake() *fakeReconciler {
	f := goldenFake()
	f.wl = append(f.wl, api.Workload{Kind: spec.KindDaemonSet, Namespace: "shop", Name: "node-exporter",
		Replicas: 3, Current: 3, Running: 2, Ready: 2, UpToDate: 1, Available: 2, Revision: "0a1b2c3d4e",
		Selector: map[string]string{"app": "node-exporter"}, NodeSelector: map[string]string{"zone": "a"},
		Containers: []string{"exporter"}, Images: []string{"exporter:2"}, Created: t0.Add(-2 * time.Hour),
		Progress: api.ProgressProgressing, Message: "1 of 3 new pods available",
		Strategy: spec.RollingUpdateDaemonSetStrategyType, MaxUnavailable: 1,
		Conditions: []agentapi.Condition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable", Message: "DaemonSet has minimum availability."}}})
	a := running("node-exporter-0a1b2c3d4e-node-a", "node-a", "10.88.0.9", 0)
	c := unschedulable("node-exporter-0a1b2c3d4e-node-c")
	c.Message = "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
	for _, p := range []*api.Pod{&a, &c} {
		p.Owner = "DaemonSet/shop/node-exporter"
	}
	f.pods[0] = append(f.pods[0], a, c)
	f.events = append(f.events,
		api.Event{Time: t0.Add(-time.Minute), Object: "Pod/shop/node-exporter-0a1b2c3d4e-node-c", Reason: "FailedScheduling", Message: c.Message},
		api.Event{Time: t0.Add(-time.Minute), Object: "DaemonSet/shop/node-exporter", Reason: "ScalingReplicaSet", Message: "Scaled up revision 0a1b2c3d4e to 2"})
	return f
}

func TestGetDaemonSets(t *testing.T) {
	url := startFake(t, daemonSetFake())
	code, out, errOut := ctl(t, url, "get", "ds", "-n", "shop")
	if code != 0 {
		t.Fatalf("get ds = %d %q", code, errOut)
	}
	want := "" +
		"NAME            DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE\n" +
		"node-exporter   3         3         2       1            2           zone=a          120m\n"
	if out != want {
		t.Errorf("get ds:\n%s\nwant:\n%s", out, want)
	}
	_, out, _ = ctl(t, url, "get", "daemonsets.apps", "-n", "shop", "-o", "wide")
	if !strings.Contains(out, "CONTAINERS   IMAGES       SELECTOR") || !strings.Contains(out, "exporter     exporter:2   app=node-exporter") {
		t.Errorf("get ds -o wide:\n%s", out)
	}
	// Deployments are listed without the DaemonSet, and get all shows it
	// as daemonset.apps/NAME.
	_, out, _ = ctl(t, url, "get", "deployments", "-n", "shop")
	if strings.Contains(out, "node-exporter") {
		t.Errorf("get deployments lists the DaemonSet:\n%s", out)
	}
	_, out, _ = ctl(t, url, "get", "all", "-n", "shop")
	if !strings.Contains(out, "daemonset.apps/node-exporter   3         3") {
		t.Errorf("get all:\n%s", out)
	}

	// The Kubernetes shape.
	code, out, errOut = ctl(t, url, "get", "daemonset", "node-exporter", "-n", "shop", "-o", "json")
	if code != 0 {
		t.Fatalf("get ds -o json = %d %q", code, errOut)
	}
	var ds struct {
		APIVersion, Kind string
		Spec             struct {
			Selector       spec.LabelSelector
			Template       spec.PodTemplateSpec
			UpdateStrategy spec.DaemonSetUpdateStrategy
		}
		Status map[string]any
	}
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" || ds.Spec.Selector.MatchLabels["app"] != "node-exporter" ||
		ds.Spec.Template.Spec.NodeSelector["zone"] != "a" || ds.Spec.UpdateStrategy.Type != "RollingUpdate" {
		t.Errorf("object = %+v", ds)
	}
	for k, v := range map[string]float64{"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
		"updatedNumberScheduled": 1, "numberAvailable": 2, "numberUnavailable": 1, "numberMisscheduled": 0} {
		if ds.Status[k] != v {
			t.Errorf("status.%s = %v, want %v (%v)", k, ds.Status[k], v, ds.Status)
		}
	}
	code, _, errOut = ctl(t, url, "get", "ds", "missing", "-n", "shop")
	if code == 0 || !strings.Contains(errOut, `daemonsets "missing" not found`) {
		t.Errorf("get ds missing = %d %q", code, errOut)
	}
}

func TestDescribeDaemonSet(t *testing.T) {
	url := startFake(t, daemonSetFake())
	code, out, errOut := ctl(t, url, "describe", "daemonset", "node-exporter", "-n", "shop")
	if code != 0 {
		t.Fatalf("describe ds = %d %q", code, errOut)
	}
	// Compared with runs of spaces collapsed: alignment is describe's.
	flat := regexp.MustCompile(` +`).ReplaceAllString(out, " ")
	for _, want := range []string{
		"Name: node-exporter\n",
		"Node-Selector: zone=a\n",
		"Desired Number of Nodes Scheduled: 3\n",
		"Number of Nodes Scheduled with Up-to-date Pods: 1\n",
		"Pods Status: 1 Running / 1 Waiting / 0 Succeeded / 0 Failed\n",
		"RollingUpdateStrategy: 1 max unavailable, 0 max surge (of 3 nodes)\n",
		"Progress: Progressing: 1 of 3 new pods available\n",
		" node-exporter-0a1b2c3d4e-node-c <none> Unschedulable",
		"Warning FailedScheduling 60s reconciler pod/node-exporter-0a1b2c3d4e-node-c",
		"Normal ScalingReplicaSet 60s reconciler daemonset/node-exporter",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "web-1") {
		t.Errorf("describe shows another workload's pods or events:\n%s", out)
	}
	code, _, errOut = ctl(t, url, "describe", "ds", "web", "-n", "shop")
	if code == 0 || !strings.Contains(errOut, "daemonset shop/web not found") {
		t.Errorf("describe ds web = %d %q", code, errOut)
	}
}
