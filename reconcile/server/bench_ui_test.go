package server

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/stevedore-dev/stevedore/internal/browser"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

var (
	benchUI     = flag.String("benchui", "", "measure the web UI's pods page at -benchui-pods running pods in Chromium and write a Markdown table to this file (- for stdout)")
	benchUIPods = flag.Int("benchui-pods", 10000, "pods of the -benchui cluster (Deployments of 100 replicas on 100 nodes)")
)

// benchUIRuns is how many times the pods page is loaded; the median is
// reported.
const benchUIRuns = 5

// renderedJS, run in every new document before the UI's own scripts,
// records in window.__benchAt the performance.now() at which the pods
// page first shows the count of want pods and at least one row: a
// MutationObserver sees the change when it happens, so the figure does not
// depend on how often the test polls.
const renderedJS = `(() => {
  const want = %d;
  const done = () => {
    const c = document.querySelector('[data-testid="count"]');
    return !!c && +c.textContent.replace(/[^0-9]/g, '') === want && !!document.querySelector('[data-testid="pod-row"]');
  };
  const obs = new MutationObserver(() => {
    if (window.__benchAt === undefined && done()) { window.__benchAt = performance.now(); obs.disconnect(); }
  });
  obs.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})()`

// TestBenchUI is what `make bench` calls for the web UI's first render
// (docs/benchmarks.md, section ui):
//
//	go test ./reconcile/server -run TestBenchUI -benchui out.md
//
// It builds the leader of TestBenchGet (100 nodes, 10,000 running pods),
// serves its whole handler, /ui/ included, on loopback without security,
// and loads /ui/pods in a headless Chromium: the clock runs from the
// navigation's start to when the page shows the count of every pod and
// its first rows. The floor is the watch the page opened, read raw by Go
// up to its BOOKMARK (the end of the initial list). Without -benchui it
// does nothing (a measurement, not a test).
func TestBenchUI(t *testing.T) {
	if *benchUI == "" {
		return
	}
	podCount := *benchUIPods
	start := time.Now()
	base := benchGetCluster(t, 100, podCount)
	t.Logf("cluster of %d pods ready in %s", podCount, time.Since(start))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := browser.Start(ctx, browser.Config{Width: 1280, Height: 800})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := chromedp.Call(b.Context(), page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(renderedJS, podCount)}); err != nil {
		t.Fatal(err)
	}

	var renders []time.Duration
	var heap, rows []float64
	var watchURL string
	for i := range benchUIRuns {
		if err := b.Navigate("about:blank"); err != nil {
			t.Fatal(err)
		}
		b.ResetRequests()
		if err := b.Navigate(base + "/ui/pods"); err != nil {
			t.Fatal(err)
		}
		at, err := browser.Wait[float64](b, "window.__benchAt", `(document.querySelector('[data-testid="count"]') || document.body).textContent.slice(0, 300)`, 2*time.Minute)
		if err != nil {
			t.Fatalf("run %d: the pods page never showed %d pods: %v", i+1, podCount, err)
		}
		d := time.Duration(at * float64(time.Millisecond))
		renders = append(renders, d)
		n, err := browser.Eval[float64](b, `document.querySelectorAll('[data-testid="pod-row"]').length`)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, n)
		if err := b.CollectGarbage(); err != nil {
			t.Fatal(err)
		}
		used, _, err := b.HeapUsage()
		if err != nil {
			t.Fatal(err)
		}
		heap = append(heap, used)
		for _, r := range b.Requests() {
			if u, err := url.Parse(r.URL); err == nil && u.Path == api.PathPods && u.Query().Get("watch") != "" {
				watchURL = r.URL
			}
		}
		t.Logf("run %d: first render %s, %v rows in the DOM, heap %.1f MB", i+1, d.Round(time.Millisecond), n, used/1e6)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors on the pods page:\n%s", strings.Join(errs, "\n"))
	}
	if watchURL == "" {
		t.Fatalf("the pods page opened no watch of %s: %+v", api.PathPods, b.Requests())
	}

	// The floor: the same watch, read raw until its BOOKMARK.
	var floor []time.Duration
	var floorBytes int
	for range benchUIRuns {
		d, n, err := readToBookmark(ctx, watchURL)
		if err != nil {
			t.Fatal(err)
		}
		floor = append(floor, d)
		floorBytes = n
	}
	fm, rm := medianOf(floor), medianOf(renders)
	wu, _ := url.Parse(watchURL)
	table := "| measurement | median | min | max | target |\n|---|---|---|---|---|\n" +
		fmt.Sprintf("| pods page, navigation start to the count of %s pods and its rows shown | %s | %s | %s | ≤ 1 s |\n", thousandsInt(podCount),
			ms(rm), ms(slices.Min(renders)), ms(slices.Max(renders))) +
		fmt.Sprintf("| floor: its watch (`%s`) read raw to the BOOKMARK (%.1f MB) | %s | %s | %s | |\n", wu.RequestURI(), float64(floorBytes)/1e6,
			ms(fm), ms(slices.Min(floor)), ms(slices.Max(floor))) +
		fmt.Sprintf("| ratio of the medians | %.1f× | | | |\n", float64(rm)/float64(fm)) +
		fmt.Sprintf("| JavaScript heap after the render (after a GC) | %.1f MB | %.1f MB | %.1f MB | |\n", median(heap)/1e6, slices.Min(heap)/1e6, slices.Max(heap)/1e6) +
		fmt.Sprintf("| pod rows in the DOM (the list is virtual) | %.0f | %.0f | %.0f | |\n", median(rows), slices.Min(rows), slices.Max(rows))
	if *benchUI == "-" {
		fmt.Print(table)
		return
	}
	if err := os.WriteFile(*benchUI, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readToBookmark GETs a watch and reads it until its BOOKMARK event,
// returning how long that took and how many bytes it read.
func readToBookmark(ctx context.Context, watchURL string) (time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, watchURL, nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("failed to open the watch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("failed to open the watch: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		n += len(sc.Bytes()) + 1
		var ev struct{ Type string }
		// Only the type matters; the object is what the browser decodes.
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return 0, 0, fmt.Errorf("failed to decode a watch event: %w", err)
		}
		if ev.Type == "BOOKMARK" {
			return time.Since(start), n, nil
		}
	}
	return 0, 0, fmt.Errorf("failed to read the watch to its BOOKMARK: %v", sc.Err())
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func thousandsInt(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
