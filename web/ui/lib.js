// Shared pieces of the UI: the API client (bearer token, JSON, watch
// streams), the router, and the components every view uses. Views import
// only from here (docs/ui.md says how the UI is built).
export {
  html, render, useState, useEffect, useRef, useMemo, useCallback, useContext, createContext,
} from './vendor/preact-htm.js';
import { html, useState, useEffect, useRef, useMemo, useCallback } from './vendor/preact-htm.js';

// ---- credentials ---------------------------------------------------------

const TOKEN_KEY = 'stevedore.token';

// A link ending in #token=… (what `make run` and `ctl ui` print) signs in
// and the token leaves the address bar at once; it never reaches a server
// log, being a fragment.
export function takeTokenFromURL() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(history.state, '', location.pathname + location.search);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || localStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(t, remember = false) {
  clearToken();
  (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, t);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
}

// ---- the API -------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// unauthorized is called on every 401: the app shows its sign-in page.
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

function headers(extra) {
  const h = { ...extra };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

// query builds "?a=b&…" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

async function failure(resp) {
  let msg = resp.statusText, code;
  try {
    const body = await resp.json();
    msg = body.error || msg;
    code = body.code;
  } catch (_) { /* not JSON */ }
  if (resp.status === 401) unauthorized();
  return new ApiError(resp.status, msg, code);
}

// api calls a /v1 route and returns its decoded JSON. body, when given, is
// sent as JSON.
export async function api(path, { method = 'GET', body, params, signal } = {}) {
  const opts = { method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}), signal };
  if (body !== undefined) opts.body = JSON.stringify(body);
  const resp = await fetch(path + query(params), opts);
  if (!resp.ok) throw await failure(resp);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

// stream reads a streaming response (a watch's newline-delimited JSON, or
// followed logs) and calls onChunk with each decoded text piece. It
// resolves when the server ends the stream, rejects on an error, and stops
// when signal aborts.
export async function stream(path, params, onChunk, signal) {
  const resp = await fetch(path + query(params), { headers: headers({}), signal });
  if (!resp.ok) throw await failure(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}

// watch follows a list route with ?watch=1: onEvent gets every WatchEvent
// ({type, object}) of the stream, onState ('live' after the first
// BOOKMARK, 'reconnecting', or an ApiError). A stream the server ends (the
// leader changed) is opened again, after a short pause that grows while
// it keeps failing: the server pushes, the UI never polls. It returns a
// function that stops it.
export function watch(path, params, onEvent, onState = () => {}) {
  const ctl = new AbortController();
  let delay = 250;
  (async () => {
    while (!ctl.signal.aborted) {
      let buf = '';
      try {
        await stream(path, { ...params, watch: 1 }, (chunk) => {
          buf += chunk;
          // One cut per chunk, not per line: 10,000 lines in a few chunks
          // must not copy the rest of the buffer each time.
          let start = 0, i;
          while ((i = buf.indexOf('\n', start)) >= 0) {
            const line = buf.slice(start, i);
            start = i + 1;
            if (!line) continue;
            const ev = JSON.parse(line);
            // A server without this watch answers the plain list: not a
            // stream to follow (and not one to open again and again).
            if (!ev || typeof ev.type !== 'string') throw new ApiError(501, 'this server has no watch for ' + path, 'NotImplemented');
            if (ev.type === 'BOOKMARK') { delay = 250; onState('live'); }
            onEvent(ev);
          }
          buf = buf.slice(start);
        }, ctl.signal);
        if (ctl.signal.aborted) return;
        onState('reconnecting');
      } catch (err) {
        if (ctl.signal.aborted) return;
        onState(err instanceof ApiError ? err : 'reconnecting');
        if (err instanceof ApiError && [400, 401, 403, 404, 501].includes(err.status)) return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();
  return () => ctl.abort();
}

// useWatchList keeps the list a watch describes: items sorted by key, ready
// once the initial list arrived, error when the server refused. Events are
// applied in batches, once per animation frame, so 10,000 initial ADDED
// events render once. A new stream (after a reconnect) replaces the list
// at its BOOKMARK.
export function useWatchList(path, params, keyOf) {
  const [state, setState] = useState({ items: [], ready: false, error: null, live: false });
  const key = path + query(params);
  useEffect(() => {
    let items = new Map();
    let next = null; // the list a reconnected stream is building
    let frame = 0;
    let ready = false;
    // The sorted keys are rebuilt only when a key came or went: a batch
    // of changes to known objects (most of them, at 10,000 pods) costs one
    // pass, not a sort.
    let keys = [];
    let structural = true;
    const flush = () => {
      frame = 0;
      if (structural) {
        keys = Array.from(items.keys()).sort();
        structural = false;
      }
      setState({ items: keys.map((k) => items.get(k)), ready, error: null, live: true });
    };
    const schedule = () => { if (!frame) frame = requestAnimationFrame(flush); };
    const stop = watch(path, params, (ev) => {
      if (ev.type === 'BOOKMARK') {
        if (next) { items = next; next = null; structural = true; }
        ready = true;
        schedule();
        return;
      }
      const target = next || items;
      const k = keyOf(ev.object);
      if (ev.type === 'DELETED') structural = target.delete(k) || structural;
      else {
        if (!target.has(k)) structural = true;
        target.set(k, ev.object);
      }
      if (!next && ready) schedule();
    }, (st) => {
      if (st === 'reconnecting') { next = new Map(); setState((s) => ({ ...s, live: false })); }
      else if (st instanceof ApiError) setState((s) => ({ ...s, error: st, ready: true, live: false }));
    });
    return () => { stop(); if (frame) cancelAnimationFrame(frame); };
  }, [key]);
  return state;
}

// useFetch calls api(path) and keeps its answer; deps (beside the path)
// fetch it again. reload() does so on demand (after an action, or when a
// watched object it describes changed).
export function useFetch(path, params, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [n, setN] = useState(0);
  const key = path && path + query(params);
  useEffect(() => {
    if (!path) return undefined;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api(path, { params, signal: ctl.signal })
      .then((data) => setState({ data, error: null, loading: false }))
      .catch((error) => { if (!ctl.signal.aborted) setState({ data: null, error, loading: false }); });
    return () => ctl.abort();
  }, [key, n, ...deps]);
  return { ...state, reload: useCallback(() => setN((x) => x + 1), []) };
}

// ---- routing -------------------------------------------------------------

export const BASE = '/ui';

let routeListeners = new Set();

// navigate changes the page without a reload; every deep link is a path
// under /ui/ (see web.Handler).
export function navigate(href, replace = false) {
  if (replace) history.replaceState(null, '', href); else history.pushState(null, '', href);
  routeListeners.forEach((fn) => fn());
}
window.addEventListener('popstate', () => routeListeners.forEach((fn) => fn()));

// currentRoute splits the path after /ui/ into segments and the query into
// an object.
export function currentRoute() {
  const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  const segs = rest.split('/').filter(Boolean).map((seg) => {
    try { return decodeURIComponent(seg); } catch (_) { return seg; } // a stray % in a typed address
  });
  const q = Object.fromEntries(new URLSearchParams(location.search).entries());
  return { segs, q, path: location.pathname, search: location.search };
}

export function useRoute() {
  const [r, setR] = useState(currentRoute());
  useEffect(() => {
    const fn = () => setR(currentRoute());
    routeListeners.add(fn);
    return () => routeListeners.delete(fn);
  }, []);
  return r;
}

// href builds a UI path from segments and query.
export function href(segs, params) {
  return BASE + '/' + segs.map(encodeURIComponent).join('/') + query(params);
}

// setQuery changes the current page's query (a filter) in place.
export function setQuery(params) {
  const r = currentRoute();
  navigate(r.path + query({ ...r.q, ...params }), true);
}

export function Link({ to, children, ...rest }) {
  const onClick = (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return html`<a href=${to} onClick=${onClick} ...${rest}>${children}</a>`;
}

// ---- components ----------------------------------------------------------

// VirtualList renders only the rows in view (plus a margin), so a list of
// 10,000 pods costs the DOM of about fifty. Rows have one fixed height.
// Up/Down (or j/k) move the selection and Enter opens it (onOpen), when the
// list has focus. header is a row of column titles kept above the rows.
export function VirtualList({ items, rowHeight = 32, renderRow, onOpen, header, label, height, rowKey }) {
  const ref = useRef(null);
  const [top, setTop] = useState(0);
  const [viewH, setViewH] = useState(600);
  const [sel, setSel] = useState(-1);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(top / rowHeight) - 10);
  const last = Math.min(items.length, Math.ceil((top + viewH) / rowHeight) + 10);
  const rows = [];
  for (let i = first; i < last; i++) {
    const it = items[i];
    rows.push(html`<div role="row" class=${'vrow' + (i === sel ? ' selected' : '')} aria-rowindex=${i + 2}
        aria-selected=${i === sel} key=${rowKey ? rowKey(it) : i}
        style=${`transform:translateY(${i * rowHeight}px);height:${rowHeight}px`}
        onClick=${() => setSel(i)} onDblClick=${() => onOpen && onOpen(it)}>${renderRow(it, i)}</div>`);
  }
  // The list can shrink under the selection (a watch deleted rows).
  useEffect(() => { if (sel >= items.length) setSel(items.length - 1); }, [items.length]);
  const onKey = (e) => {
    let i = Math.min(sel, items.length - 1);
    if (e.key === 'ArrowDown' || e.key === 'j') i = Math.min(items.length - 1, sel + 1);
    else if (e.key === 'ArrowUp' || e.key === 'k') i = Math.max(0, sel - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = items.length - 1;
    else if (e.key === 'PageDown') i = Math.min(items.length - 1, sel + Math.floor(viewH / rowHeight));
    else if (e.key === 'PageUp') i = Math.max(0, sel - Math.floor(viewH / rowHeight));
    else if (e.key === 'Enter' && i >= 0 && onOpen) { onOpen(items[i]); e.preventDefault(); return; } else return;
    e.preventDefault();
    setSel(i);
    const el = ref.current;
    if (i * rowHeight < el.scrollTop) el.scrollTop = i * rowHeight;
    else if ((i + 1) * rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = (i + 1) * rowHeight - el.clientHeight;
  };
  return html`<div class="vlist-wrap" role="grid" aria-label=${label} aria-rowcount=${items.length + 1}>
    ${header && html`<div role="row" class="vrow vhead" aria-rowindex="1">${header}</div>`}
    <div class="vlist" ref=${ref} tabindex="0" style=${height ? `height:${height}px` : ''}
        onScroll=${(e) => setTop(e.currentTarget.scrollTop)} onKeyDown=${onKey}>
      <div class="vspace" style=${`height:${items.length * rowHeight}px`}>${rows}</div>
    </div>
  </div>`;
}

// Badge colours a state: ok (Running, Ready, Synced, Healthy), warn
// (Pending, Progressing, OutOfSync), bad (Failed, Degraded, NotReady).
const OK = new Set(['Running', 'Ready', 'True', 'Synced', 'Healthy', 'Succeeded', 'Complete', 'Normal', 'Verified']);
const BAD = new Set(['Failed', 'Degraded', 'NotReady', 'Unknown', 'CrashLoopBackOff', 'Error', 'Warning', 'Refused', 'OOMKilled', 'NodeLost', 'Unschedulable']);
export function Badge({ value, title }) {
  const cls = OK.has(value) ? 'ok' : BAD.has(value) ? 'bad' : 'warn';
  return html`<span class=${'badge ' + cls} title=${title}>${value || '—'}</span>`;
}

// age renders how long ago t was, as kubectl's AGE column does.
export function age(t, now = Date.now()) {
  if (!t || t.startsWith('0001-')) return '—';
  let s = Math.max(0, Math.floor((now - Date.parse(t)) / 1000));
  if (s < 120) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 120) return m + 'm';
  const h = Math.floor(m / 60);
  if (h < 48) return h + 'h';
  return Math.floor(h / 24) + 'd';
}

export function Time({ t }) {
  if (!t || t.startsWith('0001-')) return html`<span>—</span>`;
  return html`<time datetime=${t} title=${new Date(t).toLocaleString()}>${age(t)} ago</time>`;
}

// CommitRef is a short hash, linked to the forge when the application has
// a commit URL template ("…/commit/{hash}").
export function CommitRef({ hash, urlTemplate }) {
  if (!hash) return html`<span>—</span>`;
  const short = html`<code class="hash" title=${hash}>${hash.slice(0, 10)}</code>`;
  // The template comes from a repository (an Application's annotation):
  // only an http(s) link is followed, never javascript: or data:.
  if (!urlTemplate || !/^https?:\/\//i.test(urlTemplate)) return short;
  return html`<a href=${urlTemplate.split('{hash}').join(encodeURIComponent(hash))} target="_blank" rel="noopener noreferrer">${short}</a>`;
}

// CopyText is a command to copy, with a button that copies it.
export function CopyText({ text, label = 'Copy command' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(text); setDone(true); setTimeout(() => setDone(false), 1500); } catch (_) { /* no clipboard: the text is selectable */ }
  };
  return html`<div class="copy"><code>${text}</code><button type="button" aria-label=${label} onClick=${copy}>${done ? 'Copied' : 'Copy'}</button></div>`;
}

// Confirm asks before an action: the UI is read-only until the user says
// yes to one thing.
export function Confirm({ open, title, children, confirmLabel = 'Confirm', onConfirm, onCancel }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  // Esc fires "cancel" (then closes the dialog itself): that is the user's
  // cancel. "close" is not listened to: the close event of a closing this
  // component asked for can arrive after the dialog was opened again
  // (Cancel, then at once the same button), and would shut it.
  return html`<dialog ref=${ref} class="confirm" aria-label=${title} onCancel=${() => onCancel && onCancel()}>
    <h2>${title}</h2>
    <div>${children}</div>
    <div class="actions">
      <button type="button" onClick=${onCancel}>Cancel</button>
      <button type="button" class="primary" onClick=${onConfirm}>${confirmLabel}</button>
    </div>
  </dialog>`;
}

// ActionButton shows an action only when RBAC allows it (check is an
// AccessCheck), and asks for confirmation before run().
export function ActionButton({ check, label, confirmTitle, confirmText, run, onDone }) {
  const allowed = useAccess(check ? [check] : [])[0];
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  if (!allowed) return null;
  const go = async () => {
    setOpen(false); setBusy(true); setErr(null);
    try { await run(); onDone && onDone(); } catch (e) { setErr(e.message); } finally { setBusy(false); }
  };
  return html`<span class="action">
    <button type="button" disabled=${busy} onClick=${() => setOpen(true)}>${busy ? label + '…' : label}</button>
    ${err && html`<span class="error" role="alert">${err}</span>`}
    <${Confirm} open=${open} title=${confirmTitle || label} confirmLabel=${label} onConfirm=${go} onCancel=${() => setOpen(false)}>${confirmText}<//>
  </span>`;
}

// useAccess asks the server whether the caller may do each check
// (POST /v1/accessreview); false until it answers.
export function useAccess(checks) {
  const key = JSON.stringify(checks);
  const [allowed, setAllowed] = useState(checks.map(() => false));
  useEffect(() => {
    if (!checks.length) return;
    let live = true;
    api('/v1/accessreview', { method: 'POST', body: { checks } })
      .then((r) => { if (live) setAllowed(r.checks.map((c) => c.allowed)); })
      .catch(() => {});
    return () => { live = false; };
  }, [key]);
  return allowed;
}

// ErrorBox shows an API error in words; 403 says which permission.
export function ErrorBox({ error }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">${error.status ? `${error.status}: ` : ''}${error.message || String(error)}</div>`;
}

// FilterBox is a page's filter, kept in the address (?q=) so the page
// deep-links; the server filters (QueryFilter).
export function FilterBox({ value, placeholder = 'Filter', name = 'q' }) {
  const [v, setV] = useState(value || '');
  useEffect(() => setV(value || ''), [value]);
  const timer = useRef(0);
  // A filter typed just before leaving the page must not rewrite the next
  // page's address.
  useEffect(() => () => clearTimeout(timer.current), []);
  const onInput = (e) => {
    setV(e.currentTarget.value);
    clearTimeout(timer.current);
    const val = e.currentTarget.value;
    timer.current = setTimeout(() => setQuery({ [name]: val }), 200);
  };
  return html`<input type="search" class="filter" aria-label=${placeholder} placeholder=${placeholder} value=${v} onInput=${onInput} data-filter />`;
}

// useNow re-renders every period ms, for ages.
export function useNow(period = 10000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), period); return () => clearInterval(t); }, [period]);
  return now;
}

// Section is a titled block of a details page.
export function Section({ title, children, id }) {
  return html`<section class="section" aria-labelledby=${id}><h2 id=${id}>${title}</h2>${children}</section>`;
}

// KV lists name/value pairs.
export function KV({ rows }) {
  return html`<dl class="kv">${rows.filter(Boolean).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}


// NamespaceSelect picks the page's namespace (?namespace=; empty for all),
// from GET /v1/namespaces.
export function NamespaceSelect({ value }) {
  const { data } = useFetch('/v1/namespaces');
  const names = ((data && data.namespaces) || []).map((n) => n.name);
  if (value && !names.includes(value)) names.push(value);
  return html`<select aria-label="Namespace" value=${value || ''} onChange=${(e) => setQuery({ namespace: e.currentTarget.value })}>
    <option value="">All namespaces</option>
    ${names.map((n) => html`<option value=${n}>${n}</option>`)}
  </select>`;
}

// LiveDot says whether the page's watch is live (data-testid="live").
export function LiveDot({ live }) {
  return html`<span class=${'live' + (live ? ' on' : '')} data-testid="live" role="status">${live ? 'live' : 'connecting…'}</span>`;
}

// PathText renders a path or URL that may break only after its slashes,
// not in the middle of a name.
export function PathText({ text }) {
  const parts = String(text || '').split(/(?<=\/)/);
  return html`${parts.map((p, i) => (i ? html`<wbr />${p}` : p))}`;
}
