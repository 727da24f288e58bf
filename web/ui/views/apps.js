// The applications pages: the list (/ui/apps), one application's overview
// (/ui/apps/NAME: its source, applied commit, last error, the commits
// waiting, its objects) and its live diff (/ui/apps/NAME/diff, diff.js).
// Everything follows the applications' watch; the describe, the pending
// commits and the diff are fetched again when the watched application
// changes, never on a timer.
import {
  html, useState, useEffect, useMemo, api, ApiError, watch, useFetch, VirtualList, Badge, Time, age,
  CommitRef, ActionButton, ErrorBox, FilterBox, LiveDot, Section, KV, Link, href, navigate, useNow, PathText,
} from '../lib.js';
import { DiffView, SyncErrorBox, entryString, short, firstLine } from './diff.js';

export default function Page({ route }) {
  const [, name, tab] = route.segs;
  if (!name) return html`<${AppList} q=${route.q.q || ''} />`;
  return html`<${AppPage} name=${name} tab=${tab === 'diff' ? 'diff' : 'overview'} />`;
}

// byBootstrapThenName is the list's order, as GET /v1/applications'.
function byBootstrapThenName(a, b) {
  if (!!a.bootstrap !== !!b.bootstrap) return a.bootstrap ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// matchesQ is QueryFilter on applications (name or repository), applied
// here too because a reconciler without the filter sends every one.
function matchesQ(a, q) {
  if (!q) return true;
  const s = q.toLowerCase();
  return a.name.toLowerCase().includes(s) || (a.repo || '').toLowerCase().includes(s);
}

// useApplications follows GET /v1/applications?watch=1 as useWatchList
// does (events batched per frame, the list replaced at a reconnect's
// BOOKMARK). A reconciler that cannot watch applications answers either
// 404/400, or the plain list (it ignores ?watch): then the page shows
// that one list, not live, and never asks again, instead of reconnecting
// in a loop.
function useApplications(q) {
  const [st, setSt] = useState({ items: [], ready: false, error: null, live: false, fallback: false });
  useEffect(() => {
    const params = { q };
    let items = new Map();
    let next = null;
    let frame = 0;
    let ready = false;
    let done = false;
    const once = (list) => {
      done = true;
      stop();
      setSt({ items: list.filter((a) => matchesQ(a, q)).sort(byBootstrapThenName), ready: true, error: null, live: false, fallback: true });
    };
    const flush = () => {
      frame = 0;
      setSt({ items: Array.from(items.values()).filter((a) => matchesQ(a, q)).sort(byBootstrapThenName), ready, error: null, live: true, fallback: false });
    };
    const schedule = () => { if (!frame) frame = requestAnimationFrame(flush); };
    const stop = watch('/v1/applications', params, (ev) => {
      if (done) return;
      if (!ev.type) { once(ev.applications || []); return; }
      if (ev.type === 'BOOKMARK') {
        if (next) { items = next; next = null; }
        ready = true;
        schedule();
        return;
      }
      const target = next || items;
      if (ev.type === 'DELETED') target.delete(ev.object.name);
      else target.set(ev.object.name, ev.object);
      if (!next && ready) schedule();
    }, (s) => {
      if (done) return;
      if (s === 'reconnecting') {
        next = new Map();
        setSt((x) => ({ ...x, live: false }));
      } else if (s instanceof ApiError && [400, 404, 501].includes(s.status)) {
        done = true;
        stop();
        api('/v1/applications', { params })
          .then((l) => once((l && l.applications) || []))
          .catch((error) => setSt((x) => ({ ...x, error, ready: true })));
      } else if (s instanceof ApiError) {
        setSt((x) => ({ ...x, error: s, ready: true, live: false }));
      }
    });
    return () => { done = true; stop(); if (frame) cancelAnimationFrame(frame); };
  }, [q]);
  return st;
}

// Live is the page's LiveDot, or, when the reconciler cannot watch
// applications, says the page will not follow changes.
function Live({ w }) {
  if (!w.fallback) return html`<${LiveDot} live=${w.live} />`;
  return html`<span class="live" data-testid="live" role="status" title="This reconciler cannot watch applications: reload the page to see changes">not live</span>`;
}

// source renders repo@branch/path.
function source(a) {
  return `${a.repo}@${a.branch}${a.path ? '/' + a.path : ''}`;
}

// errorSummary is a last error in a few words: its first entry's
// file:line, or its stage and message.
function errorSummary(e) {
  if (!e) return '';
  const first = (e.entries || [])[0];
  if (first && first.file) return first.file + (first.line > 0 ? ':' + first.line : '') + ': ' + first.message;
  return e.stage + ': ' + (first ? entryString(first) : e.message);
}

function AppRow({ a, now }) {
  const c = a.applied;
  return html`<div class="cells" data-testid="app-row" data-name=${a.name}>
    <span><${Link} to=${href(['apps', a.name])}>${a.name}<//>${a.bootstrap ? html` <span class="tag">bootstrap</span>` : ''}</span>
    <span class="opt muted" title=${source(a)}>${source(a)}</span>
    <span class="opt" title=${c ? `${c.hash}\n${c.author || ''}\n${firstLine(c.message)}` : ''}>${c
      ? html`<${CommitRef} hash=${c.hash} urlTemplate=${a.commitURL} /> <span class="muted">${c.author || ''}</span> ${firstLine(c.message)} <span class="muted">· ${age(c.time, now)}</span>`
      : html`<span class="muted">nothing applied</span>`}</span>
    <span><${Badge} value=${a.sync} /></span>
    <span><${Badge} value=${a.health} title=${a.healthMessage} /></span>
    <span class="opt bad-text" title=${a.lastError ? errorSummary(a.lastError) : ''}>${errorSummary(a.lastError)}</span>
  </div>`;
}

function AppList({ q }) {
  const now = useNow(30000);
  const w = useApplications(q);
  const open = (a) => navigate(href(['apps', a.name]));
  const header = html`<div class="cells">
    <span>Name</span><span class="opt">Source</span><span class="opt">Applied commit</span><span>Sync</span><span>Health</span><span class="opt">Last error</span>
  </div>`;
  const failing = w.items.filter((a) => a.sync === 'Failed').length;
  return html`<div class="listpage apps-list">
    <div class="toolbar">
      <h1>Applications</h1>
      <${Live} w=${w} />
      <span class="muted" aria-live="polite">${w.items.length} application${w.items.length === 1 ? '' : 's'}${failing ? `, ${failing} failing` : ''}</span>
      <${FilterBox} value=${q} placeholder="Filter by name or repository" />
    </div>
    <${ErrorBox} error=${w.error} />
    ${w.ready && !w.items.length && !w.error ? html`<p class="muted">${q ? 'No application matches this filter.' : 'No applications.'}</p>` : ''}
    <${VirtualList} items=${w.items} rowHeight=${34} label="Applications" header=${header}
      renderRow=${(a) => html`<${AppRow} a=${a} now=${now} />`} onOpen=${open} rowKey=${(a) => a.name} />
  </div>`;
}

// ---- one application -------------------------------------------------------

// CommitBlock shows a commit whole: hash (linked to the forge), author,
// time, and its full message.
function CommitBlock({ c, urlTemplate, testid }) {
  const code = html`<code class="hash" data-testid=${testid} title=${c.hash}>${short(c.hash)}</code>`;
  // As lib's CommitRef: the template comes from a repository, so only an
  // http(s) link is followed, never javascript: or data:.
  const safe = urlTemplate && /^https?:\/\//i.test(urlTemplate);
  return html`<div class="commit">
    <div>${safe ? html`<a href=${urlTemplate.split('{hash}').join(encodeURIComponent(c.hash))} target="_blank" rel="noopener noreferrer">${code}</a>` : code}
      ${' '}<strong>${firstLine(c.message)}</strong></div>
    <div class="muted">${c.author || 'unknown author'}${c.authorEmail ? ` <${c.authorEmail}>` : ''} · <${Time} t=${c.time} /></div>
    ${(c.message || '').trim().includes('\n') && html`<pre class="msg">${c.message.trim()}</pre>`}
  </div>`;
}

function Signature({ sig }) {
  if (!sig) return null;
  if (sig.verified) return html`<${Badge} value="Verified" title=${[sig.signer, sig.key].filter(Boolean).join(' · ')} />`;
  return html`<span class="badge bad" title=${sig.reason || ''}>Unverified${sig.reason ? ': ' + sig.reason : ''}</span>`;
}

// PendingCommits lists GET /v1/applications/NAME/commits: the commits of
// the branch not applied yet, newest first, the refused one with why.
function PendingCommits({ name, dep, urlTemplate }) {
  const { data, error } = useFetch(`/v1/applications/${encodeURIComponent(name)}/commits`, null, [dep]);
  if (error instanceof ApiError && error.status === 404 && !error.code) {
    return html`<p class="muted">This reconciler does not list pending commits.</p>`;
  }
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<p class="muted">Loading…</p>`;
  if (data.error) return html`<p class="muted">${data.error}</p>`;
  const commits = data.commits || [];
  if (!commits.length) return html`<p class="muted">None: the branch head is applied.</p>`;
  const refusal = data.refusal;
  return html`<ol class="pending" aria-label="Commits waiting">
    ${commits.map((c) => html`<li data-testid="pending-commit" data-hash=${c.hash} class=${c.refused ? 'refused' : ''}>
      <div class="pc-head">
        <${CommitRef} hash=${c.hash} urlTemplate=${urlTemplate} />
        <strong>${firstLine(c.message)}</strong>
        ${(c.parents || []).length > 1 && html`<span class="tag" title=${c.parents.join('\n')}>merge</span>`}
        <${Signature} sig=${c.signature} />
        ${c.refused && html`<${Badge} value="Refused" />`}
      </div>
      <div class="muted">${c.author || ''}${c.authorEmail ? ` <${c.authorEmail}>` : ''} · <${Time} t=${c.time} /></div>
      ${c.refused && refusal && html`<div class="why">refused at stage <code>${refusal.stage}</code>${(refusal.entries || []).length > 0
        ? html`:<ul class="entries">${refusal.entries.map((e) => html`<li><code>${entryString(e)}</code></li>`)}</ul>`
        : html`: ${refusal.message}`}</div>`}
    </li>`)}
    ${data.truncated && html`<li class="muted">… and older commits not listed.</li>`}
  </ol>`;
}

// The kinds the workloads pages show.
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob']);

function objectTo(k) {
  if (k.kind === 'Pod') return href(['pods', k.namespace || 'default', k.name]);
  if (WORKLOADS.has(k.kind)) return href(['workloads', k.kind, k.namespace || 'default', k.name]);
  return null;
}

function Objects({ objects }) {
  if (!objects) return html`<p class="muted">Loading…</p>`;
  if (!objects.length) return html`<p class="muted">No objects.</p>`;
  return html`<div class="table-scroll"><table class="t" aria-label="Objects">
    <thead><tr><th>Kind</th><th>Namespace</th><th>Name</th><th class="opt">Declared in</th><th>Health</th></tr></thead>
    <tbody>${objects.map((o) => {
      const to = objectTo(o.key);
      return html`<tr data-testid="app-object" data-key=${`${o.key.kind}/${o.key.namespace || ''}/${o.key.name}`}>
        <td>${o.key.kind}</td>
        <td>${o.key.namespace || html`<span class="muted">—</span>`}</td>
        <td>${to ? html`<${Link} to=${to}>${o.key.name}<//>` : o.key.name}</td>
        <td class="opt"><code>${o.file ? o.file + (o.line ? ':' + o.line : '') : ''}</code></td>
        <td>${o.health ? html`<${Badge} value=${o.health} title=${o.message} />` : ''}${o.message ? html` <span class="muted">${o.message}</span>` : ''}</td>
      </tr>`;
    })}</tbody>
  </table></div>`;
}

function Overview({ a, desc, descError }) {
  const name = a.name;
  const changed = a.fetched && (!a.applied || a.fetched.hash !== a.applied.hash);
  const commitsDep = [a.applied && a.applied.hash, a.fetched && a.fetched.hash, a.lastError && a.lastError.time].join('|');
  return html`<div class="app-overview">
    ${a.lastError && html`<${SyncErrorBox} error=${a.lastError} />`}
    ${a.message && html`<p class="note" role="note">${a.message}</p>`}
    <div class="cards">
      <div class="card">
        <h2>Applied commit</h2>
        ${a.applied ? html`<${CommitBlock} c=${a.applied} urlTemplate=${a.commitURL} testid="applied-commit" />` : html`<p class="muted">Nothing applied yet.</p>`}
        ${a.appliedAt && !a.appliedAt.startsWith('0001-') && html`<p class="muted">applied <${Time} t=${a.appliedAt} /></p>`}
      </div>
      ${changed && html`<div class="card">
        <h2>Fetched head</h2>
        <${CommitBlock} c=${a.fetched} urlTemplate=${a.commitURL} testid="fetched-commit" />
        <p><${Link} to=${href(['apps', name, 'diff'])}>What syncing it would change<//></p>
      </div>`}
      <div class="card">
        <h2>Source</h2>
        <${KV} rows=${[
          ['Repository', html`<code><${PathText} text=${a.repo} /></code>`],
          ['Branch', a.branch],
          a.path && ['Path', html`<code>${a.path}</code>`],
          ['Prune', a.prune ? 'yes: objects removed from Git are removed' : 'no: objects removed from Git keep running'],
          ['Last sync', html`<${Time} t=${a.lastSync} />`],
          a.healthMessage && ['Health', a.healthMessage],
        ]} />
      </div>
    </div>
    <${Section} title="Commits waiting" id="pending-h">
      <${PendingCommits} name=${name} dep=${commitsDep} urlTemplate=${a.commitURL} />
    <//>
    <${Section} title=${`Objects${desc && desc.objects ? ` (${desc.objects.length})` : ''}`} id="objects-h">
      ${descError ? html`<p class="muted">Its objects could not be read: ${descError.message}</p>` : html`<${Objects} objects=${desc ? desc.objects || [] : null} />`}
      ${(a.retained || []).length > 0 && html`<p class="muted">Kept running though removed from Git (prune is off): ${a.retained.map((k) => `${k.kind}/${k.namespace ? k.namespace + '/' : ''}${k.name}`).join(', ')}</p>`}
    <//>
  </div>`;
}

function AppPage({ name, tab }) {
  const w = useApplications(name);
  const watched = useMemo(() => w.items.find((x) => x.name === name), [w.items, name]);
  // The describe (with objects) again whenever the watched application
  // changes in any way its objects' health or its revision could show.
  const descDep = watched ? [watched.applied && watched.applied.hash, watched.health, watched.healthMessage, watched.sync, watched.lastSync].join('|') : '';
  const d = useFetch(`/v1/applications/${encodeURIComponent(name)}`, null, [descDep]);
  // Without a watch (an older reconciler) the describe is the fresher:
  // an action's onDone fetches it again.
  const a = (w.fallback && d.data) || watched || d.data;
  useEffect(() => { document.title = name + ' · Stevedore'; }, [name, tab]);
  if (!a) {
    if (d.error) return html`<h1>${name}</h1><${ErrorBox} error=${d.error} /><p><${Link} to=${href(['apps'])}>All applications<//></p>`;
    return html`<h1>${name}</h1><p class="muted">Loading…</p>`;
  }
  const diffDep = [a.applied && a.applied.hash, a.fetched && a.fetched.hash].join('|');
  return html`<div class="app-page">
    <nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['apps'])}>Applications<//> /</nav>
    <div class="toolbar">
      <h1>${name}${a.bootstrap ? html` <span class="tag">bootstrap</span>` : ''}</h1>
      <span data-testid="sync-state" data-value=${a.sync}><${Badge} value=${a.sync} /></span>
      <span data-testid="health" data-value=${a.health}><${Badge} value=${a.health} title=${a.healthMessage} /></span>
      <${Live} w=${w} />
      <${ActionButton} label="Sync" confirmTitle=${`Sync ${name}?`}
        confirmText=${html`Fetch <code>${a.branch}</code> of <code>${a.repo}</code> now and apply its head if it passes validation and policy.`}
        check=${{ verb: 'create', group: 'stevedore.dev', resource: 'applications', subresource: 'sync', name }}
        run=${() => api('/v1/sync', { method: 'POST', params: { app: name } })} onDone=${d.reload} />
    </div>
    <p class="muted src"><code>${source(a)}</code>${a.prune ? ' · prune' : ' · no prune'}</p>
    <nav class="tabs" aria-label="Application">
      <${Link} to=${href(['apps', name])} aria-current=${tab === 'overview' ? 'page' : undefined}>Overview<//>
      <${Link} to=${href(['apps', name, 'diff'])} aria-current=${tab === 'diff' ? 'page' : undefined}>Diff<//>
    </nav>
    ${d.error && !(d.error instanceof ApiError && d.error.status === 404 && watched) ? html`<${ErrorBox} error=${d.error} />` : ''}
    ${tab === 'diff' ? html`<${DiffView} app=${name} dep=${diffDep} />` : html`<${Overview} a=${a} desc=${d.data} descError=${d.data ? null : d.error} />`}
  </div>`;
}
