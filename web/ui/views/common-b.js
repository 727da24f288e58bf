// Pieces the workloads, pods and logs views share beyond lib.js: the
// Kubernetes selector syntax (so that a list filters the same way whether
// or not the server applied the filter already), pod summaries computed
// once per row, and a watch used only as a change signal.
import { html, useState, useEffect, useRef, watch, ApiError, Time, Badge, age } from '../lib.js';

// ---- selectors -----------------------------------------------------------

// splitTerms splits a selector at the commas outside parentheses
// ("a in (x,y),b" is two terms).
function splitTerms(s) {
  const out = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) { out.push(s.slice(start, i)); start = i + 1; }
  }
  out.push(s.slice(start));
  return out.map((t) => t.trim()).filter(Boolean);
}

const LABEL_TERM = /^(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(?:(==|=|!=|>|<)\s*([-A-Za-z0-9_.]*)|\s(in|notin)\s*\(([^)]*)\))?$/;

// parseLabelSelector reads Kubernetes' labelSelector syntax (=, ==, !=,
// in, notin, exists, !exists, gt/lt) into a predicate on a labels map;
// it throws on a malformed term. An empty selector matches everything.
export function parseLabelSelector(sel) {
  const reqs = splitTerms(sel || '').map((term) => {
    const m = LABEL_TERM.exec(term);
    if (!m) throw new Error(`labelSelector: cannot parse "${term}"`);
    const [, not, key, op, val, setOp, set] = m;
    if (not) {
      if (op || setOp) throw new Error(`labelSelector: "${term}": ! takes only a key`);
      return (l) => !Object.hasOwn(l, key);
    }
    if (setOp) {
      const vals = new Set(set.split(',').map((v) => v.trim()).filter(Boolean));
      return setOp === 'in' ? (l) => Object.hasOwn(l, key) && vals.has(l[key]) : (l) => !Object.hasOwn(l, key) || !vals.has(l[key]);
    }
    switch (op) {
      case undefined: return (l) => Object.hasOwn(l, key);
      case '=': case '==': return (l) => Object.hasOwn(l, key) && l[key] === val;
      case '!=': return (l) => !Object.hasOwn(l, key) || l[key] !== val;
      case '>': case '<': {
        const n = Number(val);
        if (!Number.isInteger(n)) throw new Error(`labelSelector: "${term}": ${op} takes an integer`);
        return op === '>' ? (l) => Object.hasOwn(l, key) && Number(l[key]) > n : (l) => Object.hasOwn(l, key) && Number(l[key]) < n;
      }
    }
    throw new Error(`labelSelector: cannot parse "${term}"`);
  });
  return (labels) => {
    const l = labels || {};
    for (const r of reqs) if (!r(l)) return false;
    return true;
  };
}

// The pod fields a fieldSelector may name, as Kubernetes' (and the
// server's, api.QueryFieldSelector).
const POD_FIELDS = {
  'metadata.name': (p) => p.name,
  'metadata.namespace': (p) => p.namespace,
  'spec.nodeName': (p) => p.node || '',
  'status.phase': (p) => p.phase,
};

// parseFieldTerms reads a fieldSelector into [{field, op, value}]; it
// throws on a malformed term or an unknown field.
export function parseFieldTerms(sel) {
  return splitTerms(sel || '').map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new Error(`fieldSelector: cannot parse "${term}"`);
    if (!POD_FIELDS[m[1]]) throw new Error(`fieldSelector: "${m[1]}" is not a field of pods (${Object.keys(POD_FIELDS).join(', ')})`);
    return { field: m[1], op: m[2] === '!=' ? '!=' : '=', value: m[3].trim() };
  });
}

// parsePodFieldSelector is parseFieldTerms as a predicate on a pod.
export function parsePodFieldSelector(sel) {
  const terms = parseFieldTerms(sel).map(({ field, op, value }) => {
    const get = POD_FIELDS[field];
    return op === '=' ? (p) => get(p) === value : (p) => get(p) !== value;
  });
  return (p) => {
    for (const t of terms) if (!t(p)) return false;
    return true;
  };
}

// withFieldTerm returns sel with field's equality term replaced by
// field=value (or removed when value is empty): what a quick filter
// (phase, node) writes into the fieldSelector the user may have typed.
export function withFieldTerm(sel, field, value) {
  let terms;
  try { terms = parseFieldTerms(sel); } catch (_) { terms = []; }
  terms = terms.filter((t) => t.field !== field);
  if (value) terms.push({ field, op: '=', value });
  return terms.map((t) => t.field + t.op + t.value).join(',');
}

// fieldTermValue is the value sel requires of field ("" when none).
export function fieldTermValue(sel, field) {
  try {
    const t = parseFieldTerms(sel).find((x) => x.field === field && x.op === '=');
    return t ? t.value : '';
  } catch (_) { return ''; }
}

// selectorString writes a matchLabels map as a labelSelector.
export function selectorString(m) {
  return Object.keys(m || {}).sort().map((k) => k + '=' + m[k]).join(',');
}

// contains is the q filter: a case-insensitive substring of any of the
// fields (the server's haystack is a subset of what callers pass, so a
// list the server filtered already passes unchanged).
export function contains(q, ...fields) {
  if (!q) return true;
  const needle = q.toLowerCase();
  for (const f of fields) if (f && String(f).toLowerCase().includes(needle)) return true;
  return false;
}

// ---- pods ----------------------------------------------------------------

// podKey is the watch's key of a pod: a terminating incarnation sits
// beside the current one of the same name (watchPods in the server).
export function podKey(p) {
  const k = p.namespace + '/' + p.name;
  return p.reason === 'Terminating' ? k + '@' + p.uid : k;
}

const summaries = new WeakMap();

// podSummary is what a row shows of a pod, computed once per pod object
// (a watch event brings a new object; a re-render reuses the old one).
export function podSummary(p) {
  let s = summaries.get(p);
  if (s) return s;
  const cs = (p.status && p.status.containers) || [];
  const specN = (p.spec && p.spec.containers && p.spec.containers.length) || 0;
  let ready = 0, restarts = 0, why = '';
  for (const c of cs) {
    if (c.ready) ready++;
    restarts += c.restartCount || 0;
    const st = c.state || {};
    if (!why && st.waiting && st.waiting.reason) why = st.waiting.reason;
    else if (!why && st.terminated && st.terminated.reason && p.phase !== 'Running') why = st.terminated.reason;
  }
  let reason = p.reason || '';
  if (why && why !== reason && why !== p.phase) reason = reason ? reason + ', ' + why : why;
  s = { ready, total: Math.max(cs.length, specN), restarts, reason, terminating: p.reason === 'Terminating' };
  summaries.set(p, s);
  return s;
}

// reasonClass colours a pod's reason: red for the ones that say something
// failed (kubectl users know them), muted for the others.
export function reasonClass(reason) {
  return /BackOff|Err|OOM|Fail|Unschedulable|NodeLost|Evicted|Invalid|Error|DeadlineExceeded/.test(reason || '') ? 'bad-text' : 'muted';
}

// quantity reads a Kubernetes quantity ("100m", "64Mi", "1e3") as a number.
export function quantity(q) {
  if (q === undefined || q === null || q === '') return NaN;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(String(q).trim());
  if (!m) return NaN;
  const mult = {
    '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
  }[m[2]];
  return mult === undefined ? NaN : Number(m[1]) * mult;
}

// qosClass is the pod's QoS class as Kubernetes (and ctl -o yaml)
// computes it from its containers' requests and limits.
export function qosClass(spec) {
  let guaranteed = true, none = true;
  for (const c of (spec && spec.containers) || []) {
    const r = c.resources || {};
    const req = r.requests || {}, lim = r.limits || {};
    if (Object.keys(req).length || Object.keys(lim).length) none = false;
    for (const k of ['cpu', 'memory']) {
      if (!(k in lim)) { guaranteed = false; continue; }
      if (k in req && quantity(req[k]) !== quantity(lim[k])) guaranteed = false;
    }
  }
  if (none) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

// probeText summarises a probe as kubectl describe does:
// "http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3".
export function probeText(p) {
  if (!p) return '';
  let what = '?';
  if (p.httpGet) what = `http-get ${(p.httpGet.scheme || 'HTTP').toLowerCase()}://${p.httpGet.host || ''}:${p.httpGet.port}${p.httpGet.path || '/'}`;
  else if (p.tcpSocket) what = `tcp-socket :${p.tcpSocket.port}`;
  else if (p.grpc) what = `grpc :${p.grpc.port}${p.grpc.service ? ' ' + p.grpc.service : ''}`;
  else if (p.exec) what = `exec [${(p.exec.command || []).join(' ')}]`;
  return `${what} delay=${p.initialDelaySeconds || 0}s timeout=${p.timeoutSeconds || 1}s period=${p.periodSeconds || 10}s #success=${p.successThreshold || 1} #failure=${p.failureThreshold || 3}`;
}

// ---- components ----------------------------------------------------------

// Conditions is a table of Kubernetes conditions (a workload's or a
// pod's).
export function Conditions({ items, label = 'Conditions' }) {
  if (!items || !items.length) return html`<p class="muted">No conditions reported.</p>`;
  return html`<div class="table-scroll"><table class="t" aria-label=${label}>
    <thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Message</th><th scope="col" class="opt">Last transition</th></tr></thead>
    <tbody>${items.map((c) => html`<tr>
      <td>${c.type}</td><td><span class=${'badge ' + (c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'warn')}>${c.status}</span></td>
      <td>${c.reason || ''}</td><td class="msg-cell">${c.message || ''}</td><td class="opt"><${Time} t=${c.lastTransitionTime} /></td>
    </tr>`)}</tbody>
  </table></div>`;
}

// CommandLine is a command to copy whose text element carries testid
// (lib's CopyText has no place for one).
export function CommandLine({ text, testid, label = 'Copy command' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(text); setDone(true); setTimeout(() => setDone(false), 1500); } catch (_) { /* no clipboard: the text is selectable */ }
  };
  return html`<div class="copy"><code data-testid=${testid}>${text}</code><button type="button" aria-label=${label} onClick=${copy}>${done ? 'Copied' : 'Copy'}</button></div>`;
}

// ReplicaBar draws a workload's pods against its desired count: the
// current template's (updated) and the old ones'.
export function ReplicaBar({ replicas, updated, old, label }) {
  const total = Math.max(replicas, updated + old, 1);
  const pct = (n) => (100 * n / total).toFixed(2) + '%';
  return html`<div class="rbar" role="img" aria-label=${label || `${updated} updated and ${old} old pods of ${replicas} desired`}>
    <span class="rbar-new" style=${{ width: pct(updated) }}></span><span class="rbar-old" style=${{ width: pct(old) }}></span>
  </div>`;
}

// EventTable lists events, newest first.
export function EventTable({ events }) {
  const evs = (events || []).slice().reverse();
  if (!evs.length) return html`<p class="muted">No events.</p>`;
  return html`<div class="table-scroll"><table class="t events" aria-label="Events">
    <thead><tr><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Age</th><th scope="col" class="opt">From</th><th scope="col">Message</th></tr></thead>
    <tbody>${evs.map((e) => html`<tr>
      <td><${Badge} value=${e.type || 'Normal'} /></td><td>${e.reason}</td>
      <td><${Time} t=${e.time} />${e.count > 1 ? html` <span class="muted">(×${e.count}${e.firstTime ? ' over ' + age(e.firstTime, Date.parse(e.time)) : ''})</span>` : ''}</td>
      <td class="opt">${e.source || 'reconciler'}${e.container ? html` <span class="muted">${e.container}</span>` : ''}</td>
      <td class="msg-cell">${e.message}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

// ---- watching ------------------------------------------------------------

// useChangeSignal follows a watch and counts the changes of the objects
// match accepts (after the initial list), once per animation frame: what
// a page that fetches a description refetches on. live is false until
// the first BOOKMARK.
export function useChangeSignal(path, params, match, enabled = true) {
  const [state, setState] = useState({ n: 0, live: false, error: null });
  const matchRef = useRef(match);
  matchRef.current = match;
  const key = enabled ? path + JSON.stringify(params) : '';
  useEffect(() => {
    if (!enabled) return undefined;
    let frame = 0, pending = 0, ready = false;
    const flush = () => { frame = 0; const n = pending; pending = 0; setState((s) => ({ ...s, n: s.n + n })); };
    const stop = watch(path, params, (ev) => {
      if (ev.type === 'BOOKMARK') {
        // A reconnected stream lists everything again: a change may have
        // been missed in between, so count one.
        if (ready) { pending++; if (!frame) frame = requestAnimationFrame(flush); }
        ready = true;
        return;
      }
      if (!ready || !matchRef.current(ev.object)) return;
      pending++;
      if (!frame) frame = requestAnimationFrame(flush);
    }, (st) => {
      if (st === 'live') setState((s) => ({ ...s, live: true, error: null }));
      else if (st === 'reconnecting') setState((s) => ({ ...s, live: false }));
      else if (st instanceof ApiError) setState((s) => ({ ...s, live: false, error: st }));
    });
    return () => { stop(); if (frame) cancelAnimationFrame(frame); };
  }, [key]);
  return state;
}
