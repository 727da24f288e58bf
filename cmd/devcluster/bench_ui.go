package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/browser"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	"github.com/stevedore-dev/stevedore/internal/pki"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// secUI is the section measuring the web UI.
const secUI = "ui"

// uiPods is how many running pods the UI's first-render measurement lists.
const uiPods = 10000

// benchUI measures the web UI in a headless Chromium: the pods page's first
// render at 10,000 pods (reconcile/server's TestBenchUI, in-process), then,
// on a real cluster, how soon a pushed commit shows on the application page
// and what the first load of the applications page ships.
func benchUI(ctx context.Context, o options, goTool string, runs int, out io.Writer) (string, error) {
	st := newStamp()
	fmt.Fprintf(out, "ui: go test %s -run TestBenchUI (%s pods in Chromium; a few minutes on a loaded machine)\n", controlPlanePkg, thousands(uiPods))
	podsTable, err := goTestTable(ctx, goTool, controlPlanePkg, "TestBenchUI", "-benchui", "the UI's pods benchmark",
		"-benchui-pods", fmt.Sprint(uiPods))
	if err != nil {
		return "", err
	}

	o1 := o
	o1.reconcilers = 1
	var push, floor []time.Duration
	var sizes []uiBytes
	var runErr error
	err = withBenchCluster(ctx, &o1, fmt.Sprintf("bui%d", os.Getpid()%1000), func(bc *benchCluster) {
		push, floor, sizes, runErr = benchUICluster(ctx, bc.c, runs, out)
	})
	if err == nil {
		err = runErr
	}
	if err != nil {
		return "", err
	}
	return renderUI(podsTable, push, floor, sizes, st), nil
}

// uiBytes sums what the browser received for one kind of response.
type uiBytes struct {
	what         string
	requests     int
	encoded, raw int64
	open         int // responses still streaming when counted
}

// uiPage is the application page's recorder, run in the page: for every
// hash the applied commit's title takes, the wall-clock time (ms since the
// epoch, performance.timeOrigin + performance.now(): the machine's clock,
// which Go's time.Now reads too) at which it first showed. A
// MutationObserver sees the change when the page makes it, so the figure
// does not depend on how often Go polls.
const uiPage = `(() => {
  window.__shown = {};
  const note = () => {
    const e = document.querySelector('[data-testid="applied-commit"]');
    const h = e && e.getAttribute('title');
    if (h && !(h in window.__shown)) window.__shown[h] = performance.timeOrigin + performance.now();
  };
  note();
  new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  return true;
})()`

// benchUICluster runs the cluster half of the section on c (an empty
// repository): the bytes of the first load of /ui/apps, then runs pushes,
// each timed to the UI and, on the same push, to the API (the floor).
func benchUICluster(ctx context.Context, c *devenv.Cluster, runs int, out io.Writer) (push, floor []time.Duration, sizes []uiBytes, err error) {
	if _, err := c.Repo.Commit(ctx, "ui bench: first", map[string][]byte{"ui/note.yaml": uiNote(0)}); err != nil {
		return nil, nil, nil, err
	}
	spki, err := serverSPKI(c)
	if err != nil {
		return nil, nil, nil, err
	}
	admin := pki.AdminUser()
	tok, err := c.Client.CreateToken(ctx, rapi.TokenRequest{User: admin.Name, Groups: admin.Groups, TTLSeconds: 3600})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("failed to mint a token: %w", err)
	}
	apps, err := c.Client.Applications(ctx)
	if err != nil || len(apps) == 0 {
		return nil, nil, nil, fmt.Errorf("failed to list the applications: %v (%d)", err, len(apps))
	}
	app := apps[0].Name
	for _, a := range apps {
		if a.Bootstrap {
			app = a.Name
		}
	}
	server, err := url.Parse(c.ServerURL)
	if err != nil {
		return nil, nil, nil, err
	}
	// In a network namespace of its own: pods coming and going on the host
	// would otherwise cut the page's watch (net::ERR_NETWORK_CHANGED) in
	// the middle of a timed push.
	b, err := browser.Start(ctx, browser.Config{Width: 1280, Height: 800, TrustSPKI: []string{spki},
		Isolate: true, Forward: []string{server.Host}})
	if err != nil {
		return nil, nil, nil, err
	}
	defer b.Close()
	base := strings.TrimSuffix(c.ServerURL, "/")

	// The first visit: an empty cache, the token in the fragment (never
	// sent), until the list is live.
	if err := b.ClearCache(); err != nil {
		return nil, nil, nil, err
	}
	b.ResetRequests()
	if err := b.Navigate(base + "/ui/apps#token=" + url.QueryEscape(tok.Secret)); err != nil {
		return nil, nil, nil, err
	}
	if _, err := b.WaitCount(fmt.Sprintf(`[data-testid="app-row"][data-name=%q]`, app), 1, 30*time.Second); err != nil {
		return nil, nil, nil, fmt.Errorf("the applications page: %w", err)
	}
	if _, err := b.WaitCount(`[data-testid="live"].on`, 1, 30*time.Second); err != nil {
		return nil, nil, nil, fmt.Errorf("the applications page's live indicator: %w", err)
	}
	sizes = countBytes(b.Requests())

	if err := b.Navigate(base + "/ui/apps/" + url.PathEscape(app)); err != nil {
		return nil, nil, nil, err
	}
	if _, err := b.WaitAttr(`[data-testid="applied-commit"]`, "title", nil, 30*time.Second); err != nil {
		return nil, nil, nil, fmt.Errorf("the application page: %w", err)
	}
	if _, err := browser.Eval[bool](b, uiPage); err != nil {
		return nil, nil, nil, err
	}
	for i := range runs + 1 {
		start := time.Now()
		h, err := c.Repo.Commit(ctx, fmt.Sprintf("ui bench: run %d", i), map[string][]byte{"ui/note.yaml": uiNote(i + 1)})
		if err != nil {
			return nil, nil, nil, err
		}
		// The floor on the same push: the API polled tightly on the
		// client's kept-alive connection.
		var api time.Duration
		for {
			st, err := c.Client.Status(ctx)
			if err == nil && st.Applied != nil && st.Applied.Hash == h {
				api = time.Since(start)
				break
			}
			if time.Since(start) > time.Minute {
				return nil, nil, nil, fmt.Errorf("run %d: %s never applied: %+v %v", i, h, st, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		shownAt, err := browser.Wait[float64](b, fmt.Sprintf("window.__shown[%q]", h),
			`(document.querySelector('[data-testid="applied-commit"]') || document.body).outerHTML.slice(0, 300)`, time.Minute)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("run %d: the page never showed %s: %w", i, h, err)
		}
		ui := time.UnixMicro(int64(shownAt * 1000)).Sub(start)
		if i == 0 {
			fmt.Fprintf(out, "ui: warm-up push: UI %s, API %s\n", ui.Round(time.Millisecond), api.Round(time.Millisecond))
			continue
		}
		push, floor = append(push, ui), append(floor, api)
		fmt.Fprintf(out, "ui: push %d: UI %s, API %s\n", i, ui.Round(time.Millisecond), api.Round(time.Millisecond))
	}
	if errs := b.Errors(); len(errs) > 0 {
		return nil, nil, nil, fmt.Errorf("JavaScript errors:\n%s", strings.Join(errs, "\n"))
	}
	return push, floor, sizes, nil
}

func uiNote(i int) []byte {
	return fmt.Appendf(nil, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ui-bench\n  labels:\n    run: %q\n", fmt.Sprint(i))
}

// serverSPKI is the digest of the reconciler's server key, read from a
// handshake verified with the cluster's CA: the browser trusts that key
// alone, not any certificate.
func serverSPKI(c *devenv.Cluster) (string, error) {
	u, err := url.Parse(c.ServerURL)
	if err != nil {
		return "", err
	}
	caPEM, err := os.ReadFile(c.Creds.CAFile)
	if err != nil {
		return "", fmt.Errorf("failed to read the cluster's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return "", errors.New("failed to parse the cluster's CA")
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: u.Hostname()})
	if err != nil {
		return "", fmt.Errorf("failed to reach the reconciler over TLS: %w", err)
	}
	defer conn.Close()
	return browser.SPKIHash(conn.ConnectionState().PeerCertificates[0]), nil
}

// countBytes splits the responses into the UI's assets and the API's data.
func countBytes(reqs []browser.Request) []uiBytes {
	assets, data := uiBytes{what: "assets (/ui/…)"}, uiBytes{what: "API data (/v1/…)"}
	for _, r := range reqs {
		u, err := url.Parse(r.URL)
		if err != nil {
			continue
		}
		var s *uiBytes
		switch {
		case strings.HasPrefix(u.Path, "/ui/"):
			s = &assets
		case strings.HasPrefix(u.Path, "/v1/"):
			s = &data
		default:
			continue
		}
		s.requests++
		s.encoded += r.Encoded
		s.raw += r.Decoded
		if !r.Finished && !r.Failed {
			s.open++
		}
	}
	total := uiBytes{what: "total", requests: assets.requests + data.requests, encoded: assets.encoded + data.encoded,
		raw: assets.raw + data.raw, open: assets.open + data.open}
	return []uiBytes{assets, data, total}
}

func kb(n int64) string { return fmt.Sprintf("%.1f KB", float64(n)/1000) }

// renderUI renders the ui section.
func renderUI(podsTable string, push, floor []time.Duration, sizes []uiBytes, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secUI))
	fmt.Fprintf(&b, "## %s\n\n", sectionTitles[secUI])
	fmt.Fprintln(&b, "The web UI in a headless Chromium (Debian's package, driven by chromedp; `internal/browser`).")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "**Push to the UI.** On a cluster of 1 reconciler and 3 agents, the application page is open; each")
	fmt.Fprintln(&b, "run commits and pushes a change (git CLI; the post-receive hook calls the webhook) and the clock")
	fmt.Fprintln(&b, "stops when the page shows the new hash as applied: a MutationObserver in the page notes the")
	fmt.Fprintln(&b, "moment, on the machine's clock, so the figure does not depend on a poll. The floor is the same")
	fmt.Fprintln(&b, "push timed until `GET /v1/status` reports the hash applied, polled every 2 ms on a kept-alive")
	fmt.Fprintln(&b, "connection: what the UI adds is its watch and its render.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| measurement | runs | p50 | max | target | |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|")
	p50 := percentile(push, 50)
	fmt.Fprintf(&b, "| push to the application page showing the commit | %d | %s | %s | p50 ≤ 1 s | %s |\n", len(push), ms(p50), ms(slices.Max(push)), verdict(p50 <= time.Second))
	fmt.Fprintf(&b, "| floor: push to `GET /v1/status` reporting it applied | %d | %s | %s | | |\n", len(floor), ms(percentile(floor, 50)), ms(slices.Max(floor)))
	fmt.Fprintf(&b, "| what the UI adds (p50 − floor p50) | | %s | | | |\n", ms(p50-percentile(floor, 50)))
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "**First render at %s pods.** `go test %s -run TestBenchUI -benchui FILE` builds the leader of\n", thousands(uiPods), controlPlanePkg)
	fmt.Fprintln(&b, "the get section in-process (100 nodes, every pod Running), serves its whole handler, `/ui/` included,")
	fmt.Fprintln(&b, "on loopback without TLS or authentication, and loads `/ui/pods`: the clock runs from the navigation's")
	fmt.Fprintln(&b, "start (`performance.now()`) to when the page shows the count of every pod and its first rows. The")
	fmt.Fprintln(&b, "floor is the watch the page opened, read raw by Go to its BOOKMARK (the end of the initial list).")
	fmt.Fprintln(&b, "Median of 5 loads.")
	fmt.Fprintln(&b)
	b.WriteString(strings.TrimRight(podsTable, "\n"))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "**Bytes of the first visit.** Every response of the first load of `/ui/apps` on that cluster, with")
	fmt.Fprintln(&b, "an empty cache, until the list is live: on the wire (DevTools' encodedDataLength: headers and")
	fmt.Fprintln(&b, "gzip-compressed bodies, over TLS) beside the raw bodies. The watch streams are still open; their")
	fmt.Fprintln(&b, "bytes so far are counted.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| responses | requests | on the wire | raw bodies | still streaming |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, r := range sizes {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d |\n", r.what, r.requests, kb(r.encoded), kb(r.raw), r.open)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secUI))
	return b.String()
}
