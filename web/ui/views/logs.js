// A pod's container logs (GET /v1/logs, proxied to its node's agent),
// followed as they are written. The text goes straight into the <pre> as
// text nodes, at most once per animation frame, and the oldest lines are
// dropped past MAX_LINES: a chatty container cannot grow the page without
// bound, nor re-render it per line.
import {
  html, useState, useEffect, useRef, useFetch, stream, setQuery, href, Link, ErrorBox, ApiError,
} from '../lib.js';

const MAX_LINES = 5000;
const TAILS = ['100', '1000', '5000', 'all'];

// countLines counts the newlines of s.
function countLines(s) {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

export default function Logs({ ns, name, q }) {
  const desc = useFetch(`/v1/pods/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`);
  const pod = desc.data && desc.data.pod;
  const spec = (pod && pod.spec) || {};
  const containers = [
    ...(spec.containers || []).map((c) => c.name),
    ...(spec.initContainers || []).map((c) => c.name),
  ];
  const container = q.container || containers[0] || '';
  if (container && !containers.includes(container)) containers.unshift(container);
  const follow = q.follow !== '0';
  const previous = q.previous === '1';
  const timestamps = q.timestamps === '1';
  const tail = TAILS.includes(q.tail) ? q.tail : '1000';

  const pre = useRef(null);
  const stick = useRef(true); // follow the bottom until the user scrolls up
  const [state, setState] = useState({ phase: 'idle', error: null, dropped: 0 });
  const [again, setAgain] = useState(0);
  const [atBottom, setAtBottom] = useState(true);

  useEffect(() => {
    const el = pre.current;
    if (!el || !container) return undefined;
    el.textContent = '';
    stick.current = true;
    setAtBottom(true);
    const ctl = new AbortController();
    const parts = []; // [text node, its newline count], oldest first
    let lines = 0, dropped = 0, pending = '', frame = 0;
    const flush = () => {
      frame = 0;
      if (!pending) return;
      const text = pending;
      pending = '';
      const node = document.createTextNode(text);
      el.appendChild(node);
      const n = countLines(text);
      parts.push([node, n]);
      lines += n;
      // Drop whole nodes, then the oldest lines of the first one left;
      // a reader scrolled up keeps the same lines in view.
      const h0 = stick.current ? 0 : el.scrollHeight;
      while (lines > MAX_LINES && parts.length > 1 && lines - parts[0][1] >= MAX_LINES) {
        const [old, k] = parts.shift();
        el.removeChild(old);
        lines -= k;
        dropped += k;
      }
      if (lines > MAX_LINES) {
        const [first] = parts;
        let cut = 0, k = lines - MAX_LINES;
        for (let i = 0; i < k; i++) cut = first[0].data.indexOf('\n', cut) + 1;
        first[0].data = first[0].data.slice(cut);
        first[1] -= k;
        lines -= k;
        dropped += k;
      }
      if (stick.current) el.scrollTop = el.scrollHeight;
      else if (h0 > el.scrollHeight) el.scrollTop -= h0 - el.scrollHeight;
      setState((s) => (s.phase === 'streaming' && s.dropped === dropped ? s : { ...s, phase: 'streaming', dropped }));
    };
    setState({ phase: 'connecting', error: null, dropped: 0 });
    // The stream always asks for timestamps (shown only when asked for):
    // a followed stream that breaks (the browser drops its connections
    // when the host's network changes, a reconciler fails over) is opened
    // again from the last line's time, and the lines up to that last line,
    // which come again, are skipped: nothing lost, nothing twice.
    let carry = '', lastTs = '', lastLine = '', skipping = false, delay = 500;
    const onChunk = (chunk) => {
      carry += chunk;
      let start = 0, i, out = '';
      while ((i = carry.indexOf('\n', start)) >= 0) {
        const line = carry.slice(start, i);
        start = i + 1;
        const sp = line.indexOf(' ');
        const ts = sp > 0 ? line.slice(0, sp) : '';
        if (skipping) {
          if (line === lastLine) { skipping = false; continue; }
          if (ts === lastTs) continue;
          skipping = false; // the last line is gone (rotated): keep what follows
        }
        lastTs = ts;
        lastLine = line;
        out += (timestamps || sp < 0 ? line : line.slice(sp + 1)) + '\n';
      }
      carry = carry.slice(start);
      if (!out) return;
      pending += out;
      // A hidden tab runs no animation frame: keep what is waiting to be
      // drawn under the cap too.
      if (pending.length > 1 << 20) {
        let cut = pending.length, n = 0;
        while (n <= MAX_LINES && cut > 0) { cut = pending.lastIndexOf('\n', cut - 1); n++; }
        if (cut > 0) { dropped += countLines(pending.slice(0, cut + 1)); pending = pending.slice(cut + 1); }
      }
      if (!frame) frame = requestAnimationFrame(flush);
    };
    const open = () => {
      const resume = lastTs !== '';
      const params = {
        namespace: ns, pod: name, container, follow: follow ? 1 : '', previous: previous ? 1 : '', timestamps: 1,
        tail: resume || tail === 'all' ? '' : tail, sinceTime: resume ? lastTs : '',
      };
      skipping = resume;
      carry = '';
      stream('/v1/logs', params, (chunk) => { delay = 500; onChunk(chunk); }, ctl.signal)
        .then(() => {
          if (carry) onChunk('\n');
          if (frame) cancelAnimationFrame(frame);
          flush();
          setState((s) => ({ ...s, phase: 'ended' }));
        })
        .catch((error) => {
          if (ctl.signal.aborted) return;
          if (follow && !(error instanceof ApiError)) {
            setState((s) => ({ ...s, phase: 'reconnecting', error: null }));
            setTimeout(() => { if (!ctl.signal.aborted) open(); }, delay);
            delay = Math.min(delay * 2, 5000);
            return;
          }
          setState((s) => ({ ...s, phase: 'failed', error }));
        });
    };
    open();
    return () => { ctl.abort(); if (frame) cancelAnimationFrame(frame); };
  }, [ns, name, container, follow, previous, timestamps, tail, again]);

  const onScroll = (e) => {
    const el = e.currentTarget;
    const bottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
    stick.current = bottom;
    if (bottom !== atBottom) setAtBottom(bottom);
  };
  const toBottom = () => {
    const el = pre.current;
    stick.current = true;
    setAtBottom(true);
    if (el) el.scrollTop = el.scrollHeight;
  };
  const toggle = (k, on) => setQuery({ [k]: on ? '1' : '0' });
  const status = {
    idle: 'waiting for the pod', connecting: 'connecting…', reconnecting: 'reconnecting…', streaming: follow ? 'following' : 'loading',
    ended: follow ? 'the log ended (the container stopped)' : 'end of log', failed: 'failed',
  }[state.phase];
  return html`<nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['pods'], { namespace: ns })}>Pods<//> / ${ns} / <${Link} to=${href(['pods', ns, name])}>${name}<//></nav>
    <div class="toolbar">
      <h1>Logs of ${name}</h1>
      <span class=${'live' + (state.phase === 'streaming' && follow ? ' on' : '')} role="status">${status}</span>
    </div>
    <div class="toolbar filters">
      <label class="field">Container
        <select value=${container} onChange=${(e) => setQuery({ container: e.currentTarget.value })}>
          ${containers.map((c) => html`<option value=${c}>${c}</option>`)}
        </select></label>
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => toggle('follow', e.currentTarget.checked)} /> Follow</label>
      <label class="check"><input type="checkbox" checked=${timestamps} onChange=${(e) => toggle('timestamps', e.currentTarget.checked)} /> Timestamps</label>
      <label class="check"><input type="checkbox" checked=${previous} onChange=${(e) => toggle('previous', e.currentTarget.checked)} /> Previous instance</label>
      <label class="field">Last
        <select value=${tail} onChange=${(e) => setQuery({ tail: e.currentTarget.value })}>
          ${TAILS.map((t) => html`<option value=${t}>${t === 'all' ? 'all lines' : t + ' lines'}</option>`)}
        </select></label>
      ${(state.phase === 'ended' || state.phase === 'failed') && html`<button type="button" onClick=${() => setAgain((n) => n + 1)}>Reload</button>`}
      ${!atBottom && html`<button type="button" onClick=${toBottom}>Jump to the end</button>`}
    </div>
    <${ErrorBox} error=${state.error || desc.error} />
    ${state.dropped > 0 && html`<p class="muted">The ${state.dropped} oldest lines were dropped: this page keeps the last ${MAX_LINES}.</p>`}
    <pre class="logs" data-testid="logs" ref=${pre} tabindex="0" aria-label=${`Logs of container ${container}`} aria-live="off" onScroll=${onScroll}></pre>`;
}
