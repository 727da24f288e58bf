// Package web is the reconciler's web UI: static assets (web/ui, plain ES
// modules and CSS, no build step) embedded into the binary and served
// under /ui/. The UI has no API of its own: the browser reads the same
// authenticated /v1 routes ctl does, with a bearer token, and follows them
// with their watch streams (docs/ui.md).
//
// The one third-party file, ui/vendor/preact-htm.js, is htm's
// "preact/standalone" build from npm (make web-vendor fetches it again and
// checks its digest).
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed ui
var assets embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body, gz    []byte // gz is nil when compressing saves nothing
	contentType string
	etag        string
}

var (
	loadOnce sync.Once
	files    map[string]*asset
)

// load reads and compresses every asset once.
func load() map[string]*asset {
	loadOnce.Do(func() {
		files = map[string]*asset{}
		_ = fs.WalkDir(assets, "ui", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			body, err := assets.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			a := &asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
			a.contentType = mime.TypeByExtension(path.Ext(p))
			if a.contentType == "" {
				a.contentType = "application/octet-stream"
			}
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if b.Len() < len(body) {
				a.gz = b.Bytes()
			}
			files[strings.TrimPrefix(p, "ui/")] = a
			return nil
		})
	})
	return files
}

// csp allows only the UI's own scripts, styles and API: no inline script,
// no third-party origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the UI under prefix (api.PathUI, "/ui/"). A path that is
// not an asset answers index.html, so every deep link opens the UI at its
// page.
func Handler(prefix string) http.Handler {
	fsys := load()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(prefix, "/"))
		name = strings.TrimPrefix(path.Clean("/"+name), "/")
		a, ok := fsys[name]
		if !ok || name == "" {
			a = fsys["index.html"]
			// The index names its assets by path; it must not be cached
			// past a reconciler's upgrade.
			w.Header().Set("Cache-Control", "no-cache")
		} else {
			w.Header().Set("Cache-Control", "no-cache") // revalidated by ETag: cheap, never stale
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Add("Vary", "Accept-Encoding")
		if match := r.Header.Get("If-None-Match"); match != "" && match == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := a.body
		if a.gz != nil && acceptsGzip(r) {
			h.Set("Content-Encoding", "gzip")
			body = a.gz
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}
