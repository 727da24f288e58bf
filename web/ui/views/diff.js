// An application's live diff (/ui/apps/NAME/diff): what syncing its
// branch head would change, rendered as `ctl diff` prints it (cmd/ctl
// diff_text.go): per object its action and key, its changed fields, the
// pods it starts (with where the dry run places them) and stops, then its
// unified YAML diff. Also the rendering of a sync error (SyncErrorBox),
// which the overview shares.
import { html, useState, useFetch, Badge, Time, ErrorBox } from '../lib.js';

// entryString renders an api.ErrorEntry as its String method does:
// "file:line: object: field: message", leaving out what is unknown.
export function entryString(e) {
  let s = '';
  if (e.file) {
    s = e.file;
    if (e.line > 0) s += ':' + e.line;
    s += ': ';
  }
  if (e.object) s += e.object + ': ';
  if (e.field) s += e.field + ': ';
  return s + e.message;
}

// short is a commit's hash as ctl diff prints it (12 digits).
export function short(hash) {
  return hash && hash.length > 12 && !hash.includes(' ') ? hash.slice(0, 12) : hash || '';
}

// firstLine is a commit message's subject.
export function firstLine(msg) {
  return (msg || '').trim().split('\n')[0];
}

// SyncErrorBox shows why a sync did not apply a commit: its stage, the
// commit, the message and every entry (data-testid="refusal").
export function SyncErrorBox({ error, title = 'Last sync failed', testid = 'refusal' }) {
  if (!error) return null;
  const entries = error.entries || [];
  const c = error.commit;
  return html`<div class="error-box refusal" role="alert" data-testid=${testid} data-stage=${error.stage}>
    <div class="refusal-head"><strong>${title}</strong> at stage <code class="stage">${error.stage}</code>
      ${c && html` in commit <code title=${c.hash}>${short(c.hash)}</code> <span class="muted">${firstLine(c.message)}</span>`}
      ${error.time && !error.time.startsWith('0001-') && html` · <${Time} t=${error.time} />`}</div>
    ${error.message && !entries.some((e) => entryString(e) === error.message) && html`<div class="refusal-msg">${error.message}</div>`}
    ${entries.length > 0 && html`<ul class="entries">${entries.map((e) => html`<li><code>${entryString(e)}</code></li>`)}</ul>`}
  </div>`;
}

// The lines a created or deleted object shows before "… more", as ctl
// diff's --max-lines default.
const MAX_LINES = 100;

function isHeader(l) {
  return l.startsWith('--- ') || l.startsWith('+++ ') || l.startsWith('@@');
}

// lineClass colours one line of a unified diff as ctl's palette does.
function lineClass(l) {
  if (l.startsWith('--- ') || l.startsWith('+++ ')) return 'ln file';
  if (l.startsWith('@@')) return 'ln hunk';
  if (l.startsWith('-')) return 'ln del';
  if (l.startsWith('+')) return 'ln add';
  return 'ln';
}

// diffLines splits an object's unified diff and, for a created or deleted
// object past max lines (0: all), keeps the headers and the first max
// lines: a changed object's hunks are always whole.
function diffLines(ch, max) {
  const d = (ch.diff || '').replace(/\n+$/, '');
  if (!d) return { lines: [], more: 0 };
  const lines = d.split('\n');
  if (ch.action === 'changed' || max <= 0) return { lines, more: 0 };
  let head = 0;
  while (head < Math.min(3, lines.length) && isHeader(lines[head])) head++;
  if (lines.length - head <= max) return { lines, more: 0 };
  return { lines: lines.slice(0, head + max), more: lines.length - head - max };
}

function fieldValues(f) {
  if (f.redacted) return f.op === 'added' ? '(value added)' : f.op === 'removed' ? '(value removed)' : '(value changed)';
  const old = f.op === 'added' ? '(none)' : f.old || '';
  const nu = f.op === 'removed' ? '(none)' : f.new || '';
  return old + ' → ' + nu;
}

function keyString(k) {
  return k.namespace ? `${k.kind}/${k.namespace}/${k.name}` : `${k.kind}/${k.name}`;
}

function cmpKey(a, b) {
  const x = [a.key.kind, a.key.namespace || '', a.key.name];
  const y = [b.key.kind, b.key.namespace || '', b.key.name];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

// where says where a started pod would land: "→ node-2", "→ Pending: …",
// or nothing when the reconciler did not say.
function where(p) {
  if (!p) return '';
  if (p.node) return ' → ' + p.node;
  const why = p.message || p.reason;
  return why ? ' → Pending: ' + why : ' → Pending';
}

const ACTION_CLASS = { created: 'add', deleted: 'del', changed: 'hunk' };

// DiffText renders a DiffResult as the lines of `ctl diff`, coloured.
export function DiffText({ res, all }) {
  const from = res.applied ? short(res.applied.hash) : 'nothing applied';
  const to = res.head ? short(res.head.hash) : '?';
  const changes = (res.changes || []).slice().sort(cmpKey);
  const placed = new Map((res.placements || []).map((p) => [p.pod, p]));
  const out = [];
  const line = (cls, text) => out.push(html`<span class=${cls}>${text || ' '}</span>`);
  if (!changes.length) {
    line('ln', `No changes: ${from} is up to date with ${to}.`);
  } else {
    line('ln', `Changes from ${from} to ${to}:`);
    const n = { created: 0, changed: 0, deleted: 0, started: 0, stopped: 0 };
    for (const ch of changes) {
      n[ch.action] = (n[ch.action] || 0) + 1;
      n.started += (ch.podsStarted || []).length;
      n.stopped += (ch.podsStopped || []).length;
      line('ln', '');
      out.push(html`<span class="ln obj" data-key=${keyString(ch.key)}><span class=${'act ' + (ACTION_CLASS[ch.action] || '')}>${ch.action}</span> <strong>${keyString(ch.key)}</strong></span>`);
      for (const f of ch.fields || []) line('ln field', `  ${f.path}: ${fieldValues(f)}`);
      for (const p of ch.podsStarted || []) line('ln add', `  + pod ${p}${where(placed.get(p))}`);
      for (const p of ch.podsStopped || []) line('ln del', `  - pod ${p}`);
      const { lines, more } = diffLines(ch, all ? 0 : MAX_LINES);
      for (const l of lines) line(lineClass(l), l);
      if (more > 0) line('ln muted', `… ${more} more line(s) not shown`);
    }
    line('ln', '');
    line('ln', `${changes.length} object(s) changed: ${n.created} created, ${n.changed} changed, ${n.deleted} deleted; ${n.started} pod(s) started, ${n.stopped} stopped.`);
  }
  return html`<pre class="diff" data-testid="diff" aria-label="Diff">${out}</pre>`;
}

// Placements lists where each started pod would land, Pending ones first
// (what an operator looks for before a sync).
function Placements({ res }) {
  const ps = (res.placements || []).slice().sort((a, b) => (!a.node === !b.node ? (a.pod < b.pod ? -1 : 1) : a.node ? 1 : -1));
  if (!ps.length) return null;
  return html`<details class="section" open=${ps.some((p) => !p.node)}>
    <summary><h2 class="inline">Placements (${ps.length})</h2></summary>
    <div class="table-scroll"><table class="t" aria-label="Placements">
      <thead><tr><th>Pod</th><th>Node</th><th>Why pending</th></tr></thead>
      <tbody>${ps.map((p) => html`<tr>
        <td><code>${p.pod}</code></td>
        <td>${p.node || html`<${Badge} value="Pending" />`}</td>
        <td class="wrap">${p.node ? '' : p.message || p.reason}</td>
      </tr>`)}</tbody>
    </table></div>
  </details>`;
}

// DiffView fetches GET /v1/diff?app=NAME and shows it; dep changes (the
// application's applied or fetched head) fetch it again.
export function DiffView({ app, dep }) {
  const { data, error, loading, reload } = useFetch('/v1/diff', { app }, [dep]);
  const [all, setAll] = useState(false);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">Computing the diff…</p>`;
  const long = (data.changes || []).some((ch) => ch.action !== 'changed' && (ch.diff || '').split('\n').length > MAX_LINES + 3);
  return html`<div class="diff-view" aria-busy=${loading}>
    <div class="toolbar">
      <span class="muted">Branch head ${data.head ? html`<code title=${data.head.hash}>${short(data.head.hash)}</code>` : '?'}${' '}
        against the applied ${data.applied ? html`<code title=${data.applied.hash}>${short(data.applied.hash)}</code>` : 'nothing'}</span>
      ${long && html`<button type="button" onClick=${() => setAll((a) => !a)}>${all ? 'Cut long objects' : 'Show every line'}</button>`}
      <button type="button" onClick=${reload} disabled=${loading}>Refresh</button>
    </div>
    ${data.error && html`<${SyncErrorBox} error=${data.error} title="The branch head does not load" testid="diff-error" />`}
    ${data.error && !(data.changes || []).length
      ? html`<pre class="diff" data-testid="diff" aria-label="Diff"><span class="ln">No diff: the branch head does not load (above).</span></pre>`
      : html`<${DiffText} res=${data} all=${all} />`}
    <${Placements} res=${data} />
  </div>`;
}
