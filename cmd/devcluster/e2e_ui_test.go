package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/browser"
	"github.com/stevedore-dev/stevedore/internal/pki"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// uiWait bounds every wait of the UI step: the page follows watch streams,
// so anything the API shows reaches it within a second or two.
const uiWait = 30 * time.Second

// uiShotsEnv names the directory the UI step writes its screenshots to
// (make ui-screenshots: docs/ui); without it, a temporary one.
const uiShotsEnv = "STEVEDORE_UI_SHOTS"

// uiRun is the UI step's browser and what it checks against.
type uiRun struct {
	e     *e2e
	b     *browser.Browser
	base  string // https://RECONCILER
	shots string
	app   string // the bootstrap application's name
}

// uiStep is TestEndToEnd's web UI step, on the shared cluster while the
// examples run (hello at 2 replicas of v2, web-with-sidecar, ghost failing
// to pull): a real Chromium opens the UI the reconciler serves, signed in
// with a token minted for the admin, and follows what commits do, without
// a reload; then it takes a screenshot of every view. Any JavaScript
// exception or console error fails it. helloFile is the current content
// of apps/hello.yaml.
func uiStep(e *e2e, helloFile string) {
	t := e.t
	t.Helper()
	shots := os.Getenv(uiShotsEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Pods started on this host (the agents share its network namespace)
	// add and remove interfaces, which Chromium takes for a network change:
	// it cuts every connection (net::ERR_NETWORK_CHANGED), a followed log
	// dies and a page opened just then may never load. So the browser runs
	// in a network namespace of its own, with only loopback, and reaches
	// the reconciler at its own address through a forwarder.
	server, err := url.Parse(e.c.ServerURL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := browser.Start(e.ctx, browser.Config{Width: 1280, Height: 800, IgnoreCertErrors: true,
		Isolate: true, Forward: []string{server.Host}})
	if err != nil {
		t.Fatalf("ui: %v", err)
	}
	defer b.Close()
	u := &uiRun{e: e, b: b, base: strings.TrimSuffix(e.c.ServerURL, "/"), shots: shots}
	apps, err := e.c.Client.Applications(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if a.Bootstrap {
			u.app = a.Name
		}
	}
	if u.app == "" {
		t.Fatalf("ui: no bootstrap application among %+v", apps)
	}

	u.signIn()
	u.appsList()
	u.applicationFollowsCommits()
	u.refusal()
	u.diff()
	u.rollout(helloFile)
	u.pods()
	u.pending()
	u.logsFollow()
	u.nodes()
	u.events()
	u.phoneAndDark()
	u.noErrors("the end")
	u.e.commit("ui: remove the ConfigMap and the pending pod", map[string]string{"apps/ui-note.yaml": "", "apps/ui-pending.yaml": ""})
	u.e.waitApplied("the UI step's ConfigMap removed")
	t.Logf("ui: screenshots in %s", shots)
}

// fatal fails the step, with a screenshot of the page (FAILED.png), the
// responses still open (watches) and the errors the page had.
func (u *uiRun) fatal(step string, err error) {
	u.e.t.Helper()
	var open []string
	for _, r := range u.b.Requests() {
		if !r.Finished && !r.Failed {
			open = append(open, r.Protocol+" "+r.URL)
		}
	}
	shot := filepath.Join(u.shots, "FAILED.png")
	if serr := u.b.Screenshot(shot); serr != nil {
		shot = serr.Error()
	}
	u.e.t.Fatalf("ui: %s: %v\nscreenshot: %s\nresponses still open:\n  %s\npage errors: %q", step, err, shot, strings.Join(open, "\n  "), u.b.Errors())
}

// noErrors fails the step if the page had any exception or console
// error so far.
func (u *uiRun) noErrors(step string) {
	u.e.t.Helper()
	if errs := u.b.Errors(); len(errs) > 0 {
		u.e.t.Fatalf("ui: JavaScript errors by %s:\n%s", step, strings.Join(errs, "\n"))
	}
}

// open loads a UI path (under /ui/), waits for the UI to boot (the shell
// or the sign-in page replaced "Loading Stevedore…"), then for sel.
func (u *uiRun) open(path, sel string) {
	u.e.t.Helper()
	if err := u.b.Navigate(u.base + path); err != nil {
		u.fatal(path+": the page did not load", err)
	}
	if _, err := browser.Wait[bool](u.b, uiBooted, "document.body.innerText.slice(0, 300)", uiWait); err != nil {
		u.fatal(path+`: the UI never booted: it still shows "Loading Stevedore…" (its modules or its /v1/whoami never arrived)`, err)
	}
	if _, err := u.b.WaitCount(sel, 1, uiWait); err != nil {
		u.fatal(path, err)
	}
	u.accessibleNames(path)
}

// unnamedControls lists the page's controls (buttons, links, form fields)
// that have no accessible name: no text, aria-label, title, label or
// placeholder, so a screen reader announces only "button".
const unnamedControls = `(() => {
	const bad = [];
	for (const el of document.querySelectorAll('button, a[href], input:not([type=hidden]), select, textarea, [role=button]')) {
		const label = el.id ? document.querySelector('label[for="' + CSS.escape(el.id) + '"]') : null;
		const name = [el.getAttribute('aria-label'), el.getAttribute('aria-labelledby') && 'x', el.getAttribute('title'),
			el.textContent, el.getAttribute('placeholder'), label && label.textContent, el.closest('label') && el.closest('label').textContent]
			.some((v) => v && v.trim());
		if (!name) bad.push(el.outerHTML.slice(0, 160));
	}
	return bad;
})()`

// accessibleNames fails the step when a control of the page has no
// accessible name.
func (u *uiRun) accessibleNames(path string) {
	u.e.t.Helper()
	bad, err := browser.Eval[[]string](u.b, unnamedControls)
	if err != nil {
		u.fatal(path+": accessible names", err)
	}
	if len(bad) > 0 {
		u.e.t.Errorf("ui: %s: controls without an accessible name:\n%s", path, strings.Join(bad, "\n"))
	}
}

// click clicks the first element matching sel whose text is text.
func (u *uiRun) click(sel, text string) {
	u.e.t.Helper()
	js := fmt.Sprintf(`(() => { const el = [...document.querySelectorAll(%q)].find((e) => e.textContent.trim() === %q); if (!el) return false; el.click(); return true; })()`, sel, text)
	if _, err := browser.Wait[bool](u.b, js, "document.body.innerText.slice(0, 300)", uiWait); err != nil {
		u.fatal(fmt.Sprintf("click %s %q", sel, text), err)
	}
}

// uiBooted holds once app.js has replaced index.html's "Loading
// Stevedore…" (p.boot) with the shell or the sign-in page.
const uiBooted = `(() => { const a = document.getElementById('app'); return !!a && a.childElementCount > 0 && !a.querySelector('.boot'); })()`

// list opens a list page and waits until its watch is live and sel shows.
func (u *uiRun) list(path, sel string) {
	u.e.t.Helper()
	u.open(path, sel)
	if _, err := u.b.WaitCount(`[data-testid="live"].on`, 1, uiWait); err != nil {
		u.fatal(path+": live indicator", err)
	}
}

// shot writes the page as name.png.
func (u *uiRun) shot(name string) {
	u.e.t.Helper()
	if err := u.b.Screenshot(filepath.Join(u.shots, name+".png")); err != nil {
		u.fatal("screenshot "+name, err)
	}
}

// sel builds [data-testid="id"] with attribute conditions, quoted for CSS.
func sel(id string, attrs ...string) string {
	s := fmt.Sprintf(`[data-testid=%q]`, id)
	for i := 0; i+1 < len(attrs); i += 2 {
		s += fmt.Sprintf(`[%s=%q]`, attrs[i], attrs[i+1])
	}
	return s
}

// signIn shows the sign-in page to a browser without credentials, then
// signs in with a token in the address's fragment.
func (u *uiRun) signIn() {
	t := u.e.t
	u.open("/ui/", "input#token")
	u.shot("sign-in")
	// Its /v1/whoami was refused (401): the browser logs that, as it
	// should; nothing else may be.
	for _, e := range u.b.Errors() {
		if !strings.Contains(e, "401") {
			t.Fatalf("ui: sign-in page: %s", e)
		}
	}
	u.b.ResetErrors()
	admin := pki.AdminUser()
	tok, err := u.e.c.Client.CreateToken(u.e.ctx, rapi.TokenRequest{User: admin.Name, Groups: admin.Groups, TTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	u.list("/ui/apps#token="+url.QueryEscape(tok.Secret), sel("app-row"))
	// The token left the address bar at once.
	if href, err := browser.Eval[string](u.b, "location.href"); err != nil || strings.Contains(href, tok.Secret) {
		t.Errorf("ui: the token stayed in the address %q (%v)", href, err)
	}
}

func (u *uiRun) appsList() {
	if _, err := u.b.WaitCount(sel("app-row", "data-name", u.app), 1, uiWait); err != nil {
		u.fatal("apps list", err)
	}
	u.shot("apps")
	u.noErrors("the apps list")
}

// appliedHash is what the API says the application applied.
func (u *uiRun) appliedHash() string {
	u.e.t.Helper()
	a, err := u.e.c.Client.Application(u.e.ctx, u.app)
	if err != nil || a.Applied == nil {
		u.e.t.Fatalf("ui: application %s: %+v, %v", u.app, a, err)
	}
	return a.Applied.Hash
}

// waitApplied waits until the application page shows hash as applied.
func (u *uiRun) waitApplied(step, hash string) {
	u.e.t.Helper()
	if _, err := u.b.WaitAttr(sel("applied-commit"), "title", func(v string) bool { return v == hash }, uiWait); err != nil {
		u.fatal(step, err)
	}
	text, err := u.b.WaitText(sel("applied-commit"), "", uiWait)
	if err != nil || !strings.HasPrefix(strings.TrimSpace(text), hash[:7]) {
		u.e.t.Errorf("ui: %s: applied-commit shows %q, want the short hash of %s (%v)", step, text, hash, err)
	}
}

// applicationFollowsCommits: the application page shows the applied
// commit, and a pushed commit replaces it without a reload.
func (u *uiRun) applicationFollowsCommits() {
	t := u.e.t
	u.open("/ui/apps/"+url.PathEscape(u.app), sel("applied-commit"))
	u.e.waitApplied("before the UI's commit")
	u.waitApplied("the applied commit", u.appliedHash())
	for _, id := range []string{"sync-state", "health"} {
		if _, err := u.b.WaitText(sel(id), "", uiWait); err != nil {
			u.fatal(id, err)
		}
	}
	u.shot("app")
	// A mark the page keeps only while it is not reloaded.
	if _, err := browser.Eval[bool](u.b, "window.__uiStep = true"); err != nil {
		t.Fatal(err)
	}
	h := u.e.commit("ui: a ConfigMap", map[string]string{"apps/ui-note.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ui-note\n  namespace: demo\ndata:\n  note: the UI follows commits\n"})
	u.waitApplied("a pushed commit", h)
	if kept, err := browser.Eval[bool](u.b, "window.__uiStep === true"); err != nil || !kept {
		t.Errorf("ui: the application page was reloaded to show the new commit (%v)", err)
	}
	u.noErrors("following a commit")
}

// uiBadFile is a Pod with a field Kubernetes does not have, on line
// uiBadLine.
const (
	uiBadFile = "apps/ui-bad.yaml"
	uiBadYAML = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ui-bad\n  namespace: demo\nspec:\n  containers:\n    - name: c\n      image: 127.0.0.1:5000/stevedore/busybox:1.35\n      imagePullPolicyz: Always\n"
	uiBadLine = 10
)

// refusal: a bad commit shows its refusal, naming file and line as the API
// does, and is listed as pending; its revert clears both.
func (u *uiRun) refusal() {
	t := u.e.t
	bad := u.e.commit("ui: a bad field", map[string]string{uiBadFile: uiBadYAML})
	where := fmt.Sprintf("%s:%d", uiBadFile, uiBadLine)
	text, err := u.b.WaitText(sel("refusal"), where, uiWait)
	if err != nil {
		u.fatal("refusal", err)
	}
	a, err := u.e.c.Client.Application(u.e.ctx, u.app)
	if err != nil || a.LastError == nil || len(a.LastError.Entries) == 0 {
		t.Fatalf("ui: the API reports no refusal: %+v, %v", a, err)
	}
	for _, entry := range a.LastError.Entries {
		if !strings.Contains(text, entry.String()) {
			t.Errorf("ui: the refusal lacks the API's entry %q:\n%s", entry.String(), text)
		}
	}
	if !strings.Contains(text, a.LastError.Stage) {
		t.Errorf("ui: the refusal does not name its stage %q:\n%s", a.LastError.Stage, text)
	}
	if _, err := u.b.WaitCount(sel("pending-commit", "data-hash", bad), 1, uiWait); err != nil {
		u.fatal("the refused commit among the pending ones", err)
	}
	u.shot("app-refused")
	u.noErrors("a refusal")
	good := u.e.commit("ui: revert the bad field", map[string]string{uiBadFile: ""})
	u.waitApplied("the revert", good)
	if _, err := uiWaitJS(u.b, `!document.querySelector('[data-testid="refusal"]')`); err != nil {
		u.fatal("the refusal cleared", err)
	}
}

// uiWaitJS waits for a JavaScript condition with the step's bound.
func uiWaitJS(b *browser.Browser, cond string) (bool, error) {
	return browser.Wait[bool](b, cond, "document.body.innerText.slice(0, 500)", uiWait)
}

func (u *uiRun) diff() {
	u.open("/ui/apps/"+url.PathEscape(u.app)+"/diff", `pre[data-testid="diff"]`)
	u.shot("diff")
	u.noErrors("the diff")
}

// rollout: a changed template of hello shows on its workload page as
// progress: data-updated takes at least two values, the last equal to
// data-replicas, read by a MutationObserver that misses no change.
func (u *uiRun) rollout(helloFile string) {
	t := u.e.t
	u.list("/ui/workloads", sel("workload-row", "data-key", "Deployment/demo/hello"))
	u.shot("workloads")
	u.open("/ui/workloads/Deployment/demo/hello", sel("rollout"))
	if err := u.b.WaitAttrIs(sel("rollout"), "data-replicas", "2", uiWait); err != nil {
		u.fatal("rollout before", err)
	}
	if _, err := browser.Eval[bool](u.b, `(() => {
  window.__updated = [];
  const note = () => {
    const e = document.querySelector('[data-testid="rollout"]');
    const v = e && e.getAttribute('data-updated');
    if (v !== null && v !== undefined && window.__updated[window.__updated.length - 1] !== v) window.__updated.push(v);
  };
  note();
  new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-updated'] });
  return true;
})()`); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(helloFile, "value: Hello from Stevedore", "value: Hello from the UI test", 1)
	if changed == helloFile {
		t.Fatal("ui: hello.yaml has no GREETING to change")
	}
	h := u.e.commit("ui: hello's greeting", map[string]string{"apps/hello.yaml": changed})
	// Done: every replica updated, none old, and the progress complete.
	if _, err := uiWaitJS(u.b, `(() => {
  const e = document.querySelector('[data-testid="rollout"]');
  const seen = window.__updated;
  return e && seen.length >= 2 && e.dataset.updated === e.dataset.replicas && seen[seen.length - 1] === e.dataset.replicas &&
    e.dataset.old === '0' && e.dataset.progress === 'Complete' && seen.some((v) => +v < +e.dataset.replicas);
})()`); err != nil {
		seen, _ := browser.Eval[[]string](u.b, "window.__updated")
		u.fatal(fmt.Sprintf("rollout progress (data-updated seen %q)", seen), err)
	}
	seen, _ := browser.Eval[[]string](u.b, "window.__updated")
	t.Logf("ui: data-updated went through %q", seen)
	for _, a := range []string{"data-replicas", "data-updated", "data-ready", "data-available", "data-old"} {
		v, err := u.b.WaitAttr(sel("rollout"), a, nil, uiWait)
		if _, perr := strconv.Atoi(v); err != nil || perr != nil {
			t.Errorf("ui: rollout %s = %q, want an integer (%v)", a, v, err)
		}
	}
	if _, err := u.b.WaitCount(sel("revision", "data-commit", h), 1, uiWait); err != nil {
		u.fatal("the new revision's commit", err)
	}
	if _, err := u.b.WaitText(sel("undo-command"), "rollout undo", uiWait); err != nil {
		u.fatal("undo command", err)
	}
	u.e.waitPods("hello's new greeting", "demo", time.Minute, running("hello", 2, func(p rapi.Pod) bool {
		return slices.ContainsFunc(p.Spec.Containers[0].Env, func(v spec.EnvVar) bool { return v.Value == "Hello from the UI test" })
	}))
	u.shot("workload")
	u.noErrors("a rollout")
}

// pods: the filtered list counts hello's 2 pods; a pod's page shows its
// phase and containers.
// pendingPod is a pod no node can take: its node selector matches none.
const pendingPod = `apiVersion: v1
kind: Pod
metadata:
  name: ui-pending
  namespace: demo
spec:
  nodeSelector:
    stevedore.dev/ui-test: nowhere
  containers:
    - name: c
      image: 127.0.0.1:5000/stevedore/hello:v1
`

// pending: while a pod is Pending, its page says why, in the scheduler's
// words; the explanation is not shown for a Running pod (pods()).
func (u *uiRun) pending() {
	u.e.commit("ui: a pod no node matches", map[string]string{"apps/ui-pending.yaml": pendingPod})
	u.e.waitApplied("the pending pod")
	u.open("/ui/pods/demo/ui-pending", sel("why-pending"))
	if _, err := u.b.WaitText(sel("why-pending"), "didn't match Pod's node affinity/selector", uiWait); err != nil {
		u.fatal("the pending pod's explanation", err)
	}
	u.shot("pod-pending")
	u.noErrors("the pending pod")
}

func (u *uiRun) pods() {
	t := u.e.t
	u.list("/ui/pods?namespace=demo&labelSelector="+url.QueryEscape("app=hello"), sel("pod-row"))
	if err := u.waitText(sel("count"), "2"); err != nil {
		u.fatal("hello's pod count", err)
	}
	pods, err := u.e.c.Client.Pods(u.e.ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var hello string
	for _, p := range rapi.CurrentPods(pods) {
		if p.Labels["app"] == "hello" {
			hello = p.Name
			if _, err := u.b.WaitCount(sel("pod-row", "data-key", "demo/"+p.Name), 1, uiWait); err != nil {
				u.fatal("hello's pod rows", err)
			}
		}
	}
	u.list("/ui/pods", sel("pod-row", "data-key", "demo/web-with-sidecar"))
	u.shot("pods")
	u.open("/ui/pods/demo/"+hello, sel("pod-phase"))
	if _, err := u.b.WaitText(sel("pod-phase"), "Running", uiWait); err != nil {
		u.fatal("pod phase", err)
	}
	if _, err := u.b.WaitCount(sel("container", "data-name", "hello"), 1, uiWait); err != nil {
		u.fatal("pod containers", err)
	}
	if n, err := browser.Eval[int](u.b, `document.querySelectorAll('[data-testid="why-pending"]').length`); err != nil || n != 0 {
		t.Errorf("ui: a Running pod explains why it is pending (%d, %v)", n, err)
	}
	u.shot("pod")
	u.noErrors("the pods")
}

// waitText waits until sel's trimmed text is exactly want.
func (u *uiRun) waitText(sel, want string) error {
	_, err := browser.Wait[bool](u.b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.trim() === %q; })()`, sel, want),
		"document.body.innerText.slice(0, 500)", uiWait)
	return err
}

// logsFollow: the sidecar's poller prints every 2 s; a followed log gains
// lines after it first rendered.
func (u *uiRun) logsFollow() {
	u.open("/ui/pods/demo/web-with-sidecar/logs?container=poller&follow=1", `pre[data-testid="logs"]`)
	first, err := browser.Wait[int](u.b, `(() => { const e = document.querySelector('pre[data-testid="logs"]'); const n = e ? e.textContent.split('\n').filter(Boolean).length : 0; return n > 0 ? n : 0; })()`,
		"document.body.innerText.slice(0, 500)", uiWait)
	if err != nil {
		u.fatal("logs", err)
	}
	if _, err := browser.Wait[int](u.b, fmt.Sprintf(`(() => { const n = document.querySelector('pre[data-testid="logs"]').textContent.split('\n').filter(Boolean).length; return n > %d ? n : 0; })()`, first),
		`document.querySelector('pre[data-testid="logs"]').textContent.slice(-500)`, uiWait); err != nil {
		u.fatal(fmt.Sprintf("followed logs beyond their first %d lines", first), err)
	}
	if text, _ := u.b.WaitText(`pre[data-testid="logs"]`, "Hello from the web container", uiWait); text == "" {
		u.e.t.Errorf("ui: the poller's log lacks the web container's answer")
	}
	u.shot("logs")
	u.noErrors("following logs")
}

func (u *uiRun) nodes() {
	for _, a := range u.e.c.Agents {
		u.list("/ui/nodes", sel("node-row", "data-name", a.Name))
	}
	u.shot("nodes")
	name := u.e.c.Agents[0].Name
	u.open("/ui/nodes/"+name, sel("node-conditions"))
	if _, err := u.b.WaitText(sel("node-conditions"), "Ready", uiWait); err != nil {
		u.fatal("node conditions", err)
	}
	u.shot("node")
	u.cordonConfirmed(name)
	u.noErrors("the nodes")
}

// cordonConfirmed: an action runs only once confirmed. Cancelling the
// dialog leaves the node alone; confirming cordons it; Uncordon, confirmed,
// undoes it.
func (u *uiRun) cordonConfirmed(name string) {
	cordoned := func() bool {
		nodes, err := u.e.c.Client.Nodes(u.e.ctx)
		if err != nil {
			u.e.t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Name == name {
				return n.Cordoned
			}
		}
		u.e.t.Fatalf("ui: node %s is not listed", name)
		return false
	}
	u.click(".action > button", "Cordon")
	u.click("dialog[open] button", "Cancel")
	if _, err := u.b.WaitCount(".action > button", 1, uiWait); err != nil || cordoned() {
		u.e.t.Fatalf("ui: a cancelled Cordon cordoned %s (%v)", name, err)
	}
	u.click(".action > button", "Cordon")
	u.shot("node-confirm")
	u.click("dialog[open] button.primary", "Cordon")
	waitUntil(u.e, "the node cordoned through the UI", cordoned)
	// The page follows: Uncordon replaces Cordon.
	u.click(".action > button", "Uncordon")
	u.click("dialog[open] button.primary", "Uncordon")
	waitUntil(u.e, "the node uncordoned through the UI", func() bool { return !cordoned() })
}

// waitUntil waits for cond, checked every 100 ms, for uiWait.
func waitUntil(e *e2e, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(uiWait)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("ui: %s: not within %s", what, uiWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (u *uiRun) events() {
	u.list("/ui/events", sel("event-row"))
	u.shot("events")
	// ghost's pull failures are Warnings.
	u.list("/ui/events?type=Warning", sel("event-row"))
	u.noErrors("the events")
}

// phoneAndDark: the apps list and a pod page on a phone, the application
// page in the dark theme.
func (u *uiRun) phoneAndDark() {
	if err := u.b.SetViewport(390, 844, true); err != nil {
		u.fatal("phone", err)
	}
	u.list("/ui/apps", sel("app-row", "data-name", u.app))
	u.shot("apps-phone")
	u.open("/ui/pods/demo/web-with-sidecar", sel("pod-phase"))
	u.shot("pod-phone")
	if err := u.b.SetViewport(1280, 800, false); err != nil {
		u.fatal("desktop", err)
	}
	if err := u.b.SetColorScheme("dark"); err != nil {
		u.fatal("dark", err)
	}
	u.open("/ui/apps/"+url.PathEscape(u.app), sel("applied-commit"))
	u.shot("app-dark")
	if err := u.b.SetColorScheme(""); err != nil {
		u.fatal("light", err)
	}
	u.noErrors("phone and dark")
}
