package main

import (
	"strings"
	"time"
)

// topStep checks, on the shared cluster, that `ctl top pods` lists the
// demo namespace's hello pods with figures from their agents' stats,
// `ctl top nodes` every node, and `ctl describe node` a node's conditions,
// capacity and pods.
func topStep(e *e2e) {
	t, c, ctx := e.t, e.c, e.ctx
	t.Helper()
	pods, err := c.Client.Pods(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var hello []string
	node := ""
	for _, p := range pods {
		if p.Labels["app"] == "hello" && !p.Terminating() {
			hello = append(hello, p.Name)
			node = p.Node
		}
	}
	// A pod shows once its agent has sampled it (every --stats-interval,
	// 10s by default).
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for {
		out, err = c.Ctl(ctx, "top", "pods", "-n", "demo", "-l", "app=hello")
		all := err == nil && strings.HasPrefix(out, "NAME")
		for _, name := range hello {
			all = all && strings.Contains(out, name)
		}
		if all && strings.Contains(out, "Mi\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ctl top pods never listed %v: %v\n%s", hello, err, out)
		}
		time.Sleep(time.Second)
	}
	t.Logf("ctl top pods -n demo -l app=hello:\n%s", out)
	out, err = c.Ctl(ctx, "top", "nodes")
	if err != nil || strings.Contains(out, "<unknown>") {
		t.Errorf("ctl top nodes: %v\n%s", err, out)
	}
	for _, a := range c.Agents {
		if !strings.Contains(out, a.Name) {
			t.Errorf("ctl top nodes lacks %s:\n%s", a.Name, out)
		}
	}
	out, err = c.Ctl(ctx, "describe", "node", node)
	for _, want := range []string{"Name:               " + node, "  Ready ", "Capacity:", "Allocatable:", "Non-terminated Pods:", "Allocated resources:", "Kernel Version:"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("ctl describe node %s lacks %q: %v\n%s", node, want, err, out)
		}
	}
}
