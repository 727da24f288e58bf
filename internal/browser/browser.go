// Package browser drives a headless Chromium (Debian's chromium package)
// over the DevTools protocol with chromedp, for the web UI's end-to-end
// tests and its benchmark: what a user's browser does with the UI (module
// loading under the CSP, watch streams, rendering) is only checked by a
// real browser.
//
// A Browser is one tab. Every wait is for a condition, polled in the page
// with a bounded timeout, never a sleep. Every uncaught JavaScript
// exception, console error and browser-log error of the tab is recorded
// (Errors), so that a test can fail on any of them, and every response's
// bytes are counted (Requests) for the benchmark.
package browser

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/heapprofiler"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// DefaultExecPath is Debian's chromium launcher.
const DefaultExecPath = "/usr/bin/chromium"

// Config configures Start.
type Config struct {
	// ExecPath is the browser binary; zero means DefaultExecPath, or
	// "chromium" found on PATH when that does not exist.
	ExecPath string
	// Width and Height are the window's size in CSS pixels; zero means
	// 1280×800, the size the UI's screenshots are taken at.
	Width, Height int
	// IgnoreCertErrors accepts any server certificate. Only for tests
	// against a cluster whose CA is private to the test; zero verifies
	// certificates.
	IgnoreCertErrors bool
	// TrustSPKI are base64 SHA-256 digests of public keys (SPKIHash)
	// whose certificates the browser accepts though no CA it knows
	// signed them: a private cluster's server, trusted by key alone (the
	// benchmark); zero trusts only the system's CAs.
	TrustSPKI []string
	// Ignore, when set and true for an error's text, leaves that error out
	// of Errors (a test that expects a refused token, say); zero records
	// every error.
	Ignore func(text string) bool
	// Isolate runs the browser in a network namespace of its own
	// (stv-ui-<pid>-<n>, deleted by Close) with only a loopback interface,
	// so that interfaces coming and going on the host (pods started by an
	// agent in the host's namespace) never make it drop its connections
	// (net::ERR_NETWORK_CHANGED). It reaches only the Forward addresses.
	// Needs root and the ip command. Zero runs it in the host's namespace.
	Isolate bool
	// Forward are TCP addresses (IP:port) of the host that an isolated
	// browser reaches at the same address: a listener on each inside its
	// namespace proxies every connection to the host's. Ignored without
	// Isolate.
	Forward []string
}

// Browser is one headless Chromium tab. Its methods are not safe for
// concurrent use (chromedp runs one action at a time on a tab); Errors and
// Requests are.
type Browser struct {
	ctx    context.Context
	cancel context.CancelFunc
	cfg    Config
	iso    *isolation // nil unless cfg.Isolate
	// The emulated viewport (SetViewport), which Screenshot grows to the
	// page's content and restores.
	vw, vh int
	mobile bool

	mu   sync.Mutex
	errs []string
	reqs map[network.RequestID]*Request
	seq  []network.RequestID
}

// Request is what the tab received for one request.
type Request struct {
	URL      string
	MIMEType string
	Status   int64
	// Encoded is the bytes on the wire (headers and compressed body, as
	// DevTools' "transferred"); Decoded the body's bytes after decoding.
	Encoded, Decoded int64
	// Finished is false for a response still streaming (a watch);
	// Failed is true for one that ended in an error (cancelled when its
	// page was left, say).
	Finished, Failed bool
	// Cached is true when the body came from the browser's cache.
	Cached bool
	// Protocol is the response's protocol ("http/1.1", "h2").
	Protocol string
}

// ErrNoBrowser is returned by Start when no Chromium binary is installed.
var ErrNoBrowser = errors.New("no chromium binary (Debian package chromium; make deps installs it)")

// Start launches a headless Chromium (no sandbox: the tests run as root,
// where Chromium refuses its sandbox) and opens a blank tab. The browser
// lives until Close or until ctx ends.
func Start(ctx context.Context, cfg Config) (*Browser, error) {
	if cfg.Width == 0 {
		cfg.Width = 1280
	}
	if cfg.Height == 0 {
		cfg.Height = 800
	}
	path, err := execPath(cfg.ExecPath)
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.WindowSize(cfg.Width, cfg.Height),
		chromedp.DisableGPU,
		// Fixed pixels: screenshots look the same on every machine.
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	)
	if cfg.IgnoreCertErrors {
		opts = append(opts, chromedp.IgnoreCertErrors)
	}
	if len(cfg.TrustSPKI) > 0 {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(cfg.TrustSPKI, ",")))
	}
	var iso *isolation
	if cfg.Isolate {
		if iso, err = isolate(ctx, cfg.Forward); err != nil {
			return nil, fmt.Errorf("failed to isolate the browser: %w", err)
		}
		opts = append(opts, chromedp.ModifyCmdFunc(iso.wrap))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	b := &Browser{cfg: cfg, iso: iso, reqs: map[network.RequestID]*Request{}}
	tabCtx, tabCancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	b.ctx = tabCtx
	var once sync.Once
	b.cancel = func() {
		once.Do(func() {
			// The allocator's cancel waits until the browser has exited;
			// only then are the namespace and its forwarders unused.
			tabCancel()
			allocCancel()
			if iso != nil {
				if err := iso.close(); err != nil {
					fmt.Fprintf(os.Stderr, "browser: %v\n", err)
				}
			}
		})
	}
	// The first action starts the browser; a fixed viewport makes the
	// window size exact (the window's frame is not counted).
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(int64(cfg.Width), int64(cfg.Height))); err != nil {
		b.cancel()
		return nil, fmt.Errorf("failed to start %s: %w", path, err)
	}
	b.vw, b.vh = cfg.Width, cfg.Height
	return b, nil
}

func execPath(p string) (string, error) {
	if p != "" {
		return p, nil
	}
	if _, err := os.Stat(DefaultExecPath); err == nil {
		return DefaultExecPath, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", ErrNoBrowser
}

// SPKIHash is the digest Config.TrustSPKI takes: base64 of the SHA-256 of
// the certificate's public key.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Close closes the tab and stops the browser, removing its profile and,
// when isolated, its network namespace. Call it even after ctx ended (it
// is what removes the namespace); calling it twice is harmless.
func (b *Browser) Close() { b.cancel() }

// Context is the tab's chromedp context, for actions this package does
// not wrap (chromedp.Run(b.Context(), …)).
func (b *Browser) Context() context.Context { return b.ctx }

// listen runs in chromedp's event loop: it must return at once.
func (b *Browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.addError(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				switch {
				case len(a.Value) > 0:
					parts = append(parts, strings.Trim(string(a.Value), `"`))
				case a.Description != "":
					parts = append(parts, a.Description)
				}
			}
			b.addError("console." + string(ev.Type) + ": " + strings.Join(parts, " "))
		}
	case *cdplog.EventEntryAdded:
		// The browser's own errors: a CSP violation, a failed load, a
		// 404 of a module.
		if e := ev.Entry; e.Level == cdplog.EntryLevelError {
			b.addError(fmt.Sprintf("%s error: %s (%s)", e.Source, e.Text, e.URL))
		}
	case *network.EventResponseReceived:
		b.mu.Lock()
		r := b.request(ev.RequestID)
		r.URL, r.MIMEType, r.Status = ev.Response.URL, ev.Response.MimeType, ev.Response.Status
		r.Cached, r.Protocol = ev.Response.FromDiskCache, ev.Response.Protocol
		// The headers' bytes, until the body's arrive.
		r.Encoded = int64(ev.Response.EncodedDataLength)
		b.mu.Unlock()
	case *network.EventDataReceived:
		b.mu.Lock()
		r := b.request(ev.RequestID)
		r.Decoded += ev.DataLength
		if !r.Finished {
			r.Encoded += ev.EncodedDataLength
		}
		b.mu.Unlock()
	case *network.EventLoadingFailed:
		b.mu.Lock()
		if r := b.reqs[ev.RequestID]; r != nil {
			r.Failed = true
		}
		b.mu.Unlock()
	case *network.EventLoadingFinished:
		b.mu.Lock()
		r := b.request(ev.RequestID)
		r.Finished = true
		// The whole response as received: the exact figure.
		r.Encoded = int64(ev.EncodedDataLength)
		b.mu.Unlock()
	}
}

// request returns the entry of id, creating it; b.mu is held.
func (b *Browser) request(id network.RequestID) *Request {
	r := b.reqs[id]
	if r == nil {
		r = &Request{}
		b.reqs[id] = r
		b.seq = append(b.seq, id)
	}
	return r
}

func (b *Browser) addError(text string) {
	if b.cfg.Ignore != nil && b.cfg.Ignore(text) {
		return
	}
	b.mu.Lock()
	b.errs = append(b.errs, text)
	b.mu.Unlock()
}

// Errors returns every JavaScript exception, console.error and browser-log
// error the tab has had since it started (or since the last ResetErrors).
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// ResetErrors forgets the errors recorded so far (after a step that
// expected some).
func (b *Browser) ResetErrors() {
	b.mu.Lock()
	b.errs = nil
	b.mu.Unlock()
}

// Requests returns the responses received since the last ResetRequests, in
// the order they started.
func (b *Browser) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Request, 0, len(b.seq))
	for _, id := range b.seq {
		if r := b.reqs[id]; r.URL != "" {
			out = append(out, *r)
		}
	}
	return out
}

// ResetRequests forgets the responses counted so far.
func (b *Browser) ResetRequests() {
	b.mu.Lock()
	b.reqs = map[network.RequestID]*Request{}
	b.seq = nil
	b.mu.Unlock()
}

// ClearCache empties the browser's HTTP cache, so that the next load
// fetches every asset again (a first visit).
func (b *Browser) ClearCache() error {
	_, err := chromedp.Call(b.ctx, network.ClearBrowserCache, cdp.Empty{})
	return err
}

// Navigate loads url in the tab and waits for its load event (the UI's
// modules have run; its data may still be on the way).
func (b *Browser) Navigate(url string) error {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("failed to navigate to %s: %w", url, err)
	}
	return nil
}

// pollInterval is how often a wait evaluates its condition in the page:
// often enough that a wait ends promptly, rarely enough to cost nothing.
const pollInterval = 50 * time.Millisecond

// Wait evaluates the JavaScript expression expr in the page until it is
// truthy, for at most timeout, and returns its value. On timeout the
// error says what the page showed (describe, a JavaScript expression, when
// not empty).
func Wait[T any](b *Browser, expr, describe string, timeout time.Duration) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, timeout+10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr,
		chromedp.WithPollingInterval(pollInterval), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		seen := ""
		if describe != "" {
			if s, derr := Eval[string](b, "String("+describe+")"); derr == nil {
				seen = "; the page shows: " + s
			}
		}
		return v, fmt.Errorf("failed to wait %s for %s: %w%s", timeout, expr, err, seen)
	}
	return v, nil
}

// Eval evaluates the JavaScript expression expr in the page (awaiting it
// when it is a promise) and decodes its value.
func Eval[T any](b *Browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// WaitText waits until the first element matching the CSS selector sel
// exists and its text contains want (any text when want is empty), and
// returns that text.
func (b *Browser) WaitText(sel, want string, timeout time.Duration) (string, error) {
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; const t = e.textContent; return t.includes(%s) && (%s !== "" || t !== "") ? t : false; })()`,
		js(sel), js(want), js(want))
	return Wait[string](b, expr, b.describe(sel), timeout)
}

// WaitAttr waits until the first element matching sel has attribute attr
// and ok holds for its value (any value when ok is nil), and returns it.
// ok runs in Go, so the page is read every poll interval.
func (b *Browser) WaitAttr(sel, attr string, ok func(string) bool, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e && e.hasAttribute(%s) ? e.getAttribute(%s) : null; })()`, js(sel), js(attr), js(attr))
	last := "no such element or attribute"
	for {
		v, err := Eval[*string](b, expr)
		if err != nil {
			return "", fmt.Errorf("failed to read %s[%s]: %w", sel, attr, err)
		}
		if v != nil {
			last = fmt.Sprintf("%q", *v)
			if ok == nil || ok(*v) {
				return *v, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("failed to wait %s for %s[%s]: last value %s; the page shows: %s", timeout, sel, attr, last, b.pageText())
		}
		select {
		case <-b.ctx.Done():
			return "", b.ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// WaitAttrIs waits until sel's attribute attr equals want.
func (b *Browser) WaitAttrIs(sel, attr, want string, timeout time.Duration) error {
	_, err := b.WaitAttr(sel, attr, func(v string) bool { return v == want }, timeout)
	return err
}

// WaitCount waits until at least n elements match sel, and returns how
// many do.
func (b *Browser) WaitCount(sel string, n int, timeout time.Duration) (int, error) {
	expr := fmt.Sprintf(`(() => { const k = document.querySelectorAll(%s).length; return k >= %d ? k : 0; })()`, js(sel), n)
	return Wait[int](b, expr, b.describe(sel), timeout)
}

// describe is a JavaScript expression saying what sel shows, or the page's
// text when nothing matches, for a wait's error.
func (b *Browser) describe(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? "element: " + e.outerHTML.slice(0, 500) : "no element; " + location.pathname + ": " + document.body.innerText.slice(0, 500); })()`, js(sel))
}

// pageText is the page's address and start of its text, for an error.
func (b *Browser) pageText() string {
	s, err := Eval[string](b, `location.pathname + location.search + ": " + document.body.innerText.slice(0, 500)`)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// Screenshot writes a PNG of the whole page (beyond the viewport) to path.
//
// The UI scrolls inside its <main>, not the document, so a full-page
// capture alone would stop at the window: the viewport is made as tall as
// main's content for the capture (up to maxShotHeight), then restored.
func (b *Browser) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	need, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
		const m = document.querySelector('main');
		return Math.ceil(document.documentElement.clientHeight + (m ? Math.max(0, m.scrollHeight - m.clientHeight) : 0));
	})()`))
	if err != nil {
		return fmt.Errorf("failed to measure the page: %w", err)
	}
	if need = min(need, maxShotHeight); need > b.vh {
		if err := b.emulate(b.vw, need, b.mobile); err != nil {
			return err
		}
		defer func() { _ = b.emulate(b.vw, b.vh, b.mobile) }()
		// Two frames: the layout, then the rows a taller list renders.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`,
			chromedp.EvalAwaitPromise)); err != nil {
			return fmt.Errorf("failed to wait for the taller layout: %w", err)
		}
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("failed to take a screenshot: %w", err)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	return nil
}

// SetViewport emulates a screen of width×height CSS pixels; mobile also
// emulates a phone (touch, mobile viewport rules).
func (b *Browser) SetViewport(width, height int, mobile bool) error {
	if err := b.emulate(width, height, mobile); err != nil {
		return err
	}
	b.vw, b.vh, b.mobile = width, height, mobile
	return nil
}

// maxShotHeight bounds a screenshot's height in CSS pixels.
const maxShotHeight = 4000

func (b *Browser) emulate(width, height int, mobile bool) error {
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.Do(b.ctx, chromedp.EmulateViewport(int64(width), int64(height), opts...))
}

// SetColorScheme emulates prefers-color-scheme: "dark" or "light"; ""
// returns to the browser's own.
func (b *Browser) SetColorScheme(scheme string) error {
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	} else {
		p.Features = []*emulation.MediaFeature{}
	}
	_, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, p)
	return err
}

// HeapUsage returns the tab's JavaScript heap in use and allocated, in
// bytes (DevTools' Runtime.getHeapUsage).
func (b *Browser) HeapUsage() (used, total float64, err error) {
	r, err := chromedp.Call(b.ctx, runtime.GetHeapUsage, cdp.Empty{})
	if err != nil {
		return 0, 0, fmt.Errorf("failed to read the heap usage: %w", err)
	}
	return r.UsedSize, r.TotalSize, nil
}

// CollectGarbage runs the tab's garbage collector, so that HeapUsage
// counts live objects only.
func (b *Browser) CollectGarbage() error {
	_, err := chromedp.Call(b.ctx, heapprofiler.CollectGarbage, cdp.Empty{})
	return err
}
