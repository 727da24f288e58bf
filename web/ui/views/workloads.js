// The workloads pages: every Deployment, StatefulSet, DaemonSet,
// ReplicaSet and ReplicationController (GET /v1/deployments), Job and
// CronJob, live; and one workload's rollout, pods and revision history,
// with the `ctl rollout undo` command a rollback is made with.
import {
  html, useMemo, useWatchList, useFetch, navigate, href, setQuery, Link, VirtualList, Badge, Time, age, CommitRef,
  ErrorBox, FilterBox, NamespaceSelect, LiveDot, Section, KV, useNow,
} from '../lib.js';
import {
  contains, selectorString, Conditions, CommandLine, ReplicaBar, podKey, podSummary, reasonClass, EventTable,
} from './common-b.js';

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController'];
const KINDS = [...WORKLOAD_KINDS, 'Job', 'CronJob'];

const wlKey = (w) => w.kind + '/' + w.namespace + '/' + w.name;
const jobKey = (j) => 'Job/' + j.namespace + '/' + j.name;
const cronKey = (c) => 'CronJob/' + c.namespace + '/' + c.name;

export default function Page({ route }) {
  const [, kind, ns, name] = route.segs;
  if (kind && ns && name) {
    const key = kind + '/' + ns + '/' + name;
    if (kind === 'Job') return html`<${JobPage} key=${key} ns=${ns} name=${name} />`;
    if (kind === 'CronJob') return html`<${CronJobPage} key=${key} ns=${ns} name=${name} />`;
    return html`<${WorkloadPage} key=${key} kind=${kind} ns=${ns} name=${name} />`;
  }
  return html`<${WorkloadList} q=${route.q} />`;
}

// ---- the list --------------------------------------------------------------

// jobProgress is a Job's state in the words of a workload's progress.
function jobProgress(j) {
  const c = (j.conditions || []).find((x) => x.status === 'True' && (x.type === 'Complete' || x.type === 'Failed' || x.type === 'Suspended'));
  if (c) return c.type === 'Suspended' ? 'Paused' : c.type;
  return j.active > 0 ? 'Running' : 'Pending';
}

// row turns a workload, Job or CronJob into the list's columns.
function wlRow(w) {
  return {
    key: wlKey(w), kind: w.kind, namespace: w.namespace, name: w.name, ready: `${w.ready}/${w.replicas}`,
    upToDate: w.upToDate, available: w.available, progress: w.progress, message: w.message,
    images: (w.images || []).join(', '), created: w.created,
  };
}
function jobRow(j) {
  const want = j.completions < 0 ? '—' : j.completions;
  return {
    key: jobKey(j), kind: 'Job', namespace: j.namespace, name: j.name, ready: `${j.succeeded}/${want}`,
    upToDate: '—', available: j.active, progress: jobProgress(j), message: j.failed ? `${j.failed} failed` : '',
    images: (j.images || []).join(', '), created: j.created,
  };
}
function cronRow(c) {
  return {
    key: cronKey(c), kind: 'CronJob', namespace: c.namespace, name: c.name, ready: '—', upToDate: '—',
    available: (c.active || []).length, progress: c.problem ? 'Failed' : c.suspend ? 'Paused' : 'Scheduled',
    message: c.problem || c.schedule, images: c.schedule + (c.timeZone ? ' ' + c.timeZone : ''), created: c.created,
  };
}

function WorkloadList({ q }) {
  const now = useNow(10000);
  const ns = q.namespace || '';
  const kind = q.kind || '';
  const wl = useWatchList('/v1/deployments', { namespace: ns, q: q.q, labelSelector: q.labelSelector }, wlKey);
  // Jobs and CronJobs carry no labels on the wire: a label selector
  // hides them rather than showing them unfiltered.
  const withJobs = !q.labelSelector;
  const jobs = useWatchList('/v1/jobs', { namespace: ns }, jobKey);
  const crons = useWatchList('/v1/cronjobs', { namespace: ns }, cronKey);
  const rows = useMemo(() => {
    const out = [];
    const keep = (r) => (!kind || r.kind === kind) && contains(q.q, r.kind + '/' + r.namespace + '/' + r.name);
    for (const w of wl.items) { const r = wlRow(w); if (keep(r)) out.push(r); }
    if (withJobs) {
      for (const j of jobs.items) { const r = jobRow(j); if (keep(r)) out.push(r); }
      for (const c of crons.items) { const r = cronRow(c); if (keep(r)) out.push(r); }
    }
    // One order whatever the source: namespace, name, kind.
    out.sort((a, b) => (a.namespace + '/' + a.name + '/' + a.kind < b.namespace + '/' + b.name + '/' + b.kind ? -1 : 1));
    return out;
  }, [wl.items, jobs.items, crons.items, kind, q.q, withJobs]);
  // Jobs the caller may not list are left out, not an error of the page.
  const live = wl.live && (!withJobs || ((jobs.live || jobs.error) && (crons.live || crons.error)));
  const open = (r) => navigate(href(['workloads', r.kind, r.namespace, r.name]));
  const header = html`<span role="columnheader" class="opt">Kind</span><span role="columnheader">Name</span>
    <span role="columnheader" title="Ready of desired (a Job: succeeded of completions)">Ready</span>
    <span role="columnheader" class="opt">Up-to-date</span><span role="columnheader" class="opt" title="Available (a Job or CronJob: active)">Available</span>
    <span role="columnheader">Progress</span><span role="columnheader" class="opt">Images</span><span role="columnheader">Age</span>`;
  const renderRow = (r) => html`<span class="contents" role="presentation" data-testid="workload-row" data-key=${r.key}>
    <span role="gridcell" class="opt"><span class="kind">${r.kind}</span></span>
    <span role="gridcell">
      <${Link} to=${href(['workloads', r.kind, r.namespace, r.name])}><span class="muted">${r.namespace}/</span>${r.name}<//></span>
    <span role="gridcell" class="num">${r.ready}</span>
    <span role="gridcell" class="num opt">${r.upToDate}</span>
    <span role="gridcell" class="num opt">${r.available}</span>
    <span role="gridcell" title=${r.message}><${Badge} value=${r.progress} title=${r.message} /></span>
    <span role="gridcell" class="opt mono" title=${r.images}>${r.images}</span>
    <span role="gridcell">${age(r.created, now)}</span></span>`;
  return html`<div class="toolbar">
      <h1>Workloads</h1>
      <${NamespaceSelect} value=${ns} />
      <select aria-label="Kind" value=${kind} onChange=${(e) => setQuery({ kind: e.currentTarget.value })}>
        <option value="">All kinds</option>
        ${KINDS.map((k) => html`<option value=${k}>${k}</option>`)}
      </select>
      <${FilterBox} value=${q.q} placeholder="Filter by name" />
      <${FilterBox} value=${q.labelSelector} placeholder="Labels (app=web)" name="labelSelector" />
      <span class="muted"><span data-testid="count">${rows.length}</span> shown</span>
      <${LiveDot} live=${live} />
    </div>
    <${ErrorBox} error=${wl.error} />
    ${wl.ready && !rows.length && !wl.error && html`<p class="muted empty">No workloads${ns ? ' in ' + ns : ''}${q.q || q.labelSelector || kind
      ? html` match these filters. <${Link} to=${href(['workloads'], { namespace: ns })}>Clear the filters<//>` : '.'}</p>`}
    ${!wl.ready ? html`<p class="muted">Loading…</p>` : html`<div class="wl-list">
      <${VirtualList} items=${rows} header=${header} renderRow=${renderRow} onOpen=${open} label="Workloads" rowKey=${(r) => r.key} />
    </div>`}`;
}

// ---- one workload ----------------------------------------------------------

function WorkloadPage({ kind, ns, name }) {
  const key = kind + '/' + ns + '/' + name;
  const list = useWatchList('/v1/deployments', { namespace: ns, fieldSelector: 'metadata.name=' + name }, wlKey);
  const w = list.items.find((x) => wlKey(x) === key);
  return html`<nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['workloads'], { namespace: ns })}>Workloads<//> / ${ns}</nav>
    <div class="toolbar">
      <h1><span class="kind">${kind}</span> ${name}</h1>
      ${w && html`<${Badge} value=${w.progress} />`}
      <${LiveDot} live=${list.live} />
    </div>
    <${ErrorBox} error=${list.error} />
    ${list.ready && !w && !list.error && html`<p class="error-box" role="alert">${kind} ${ns}/${name} is not in the applied revision (deleted, or never declared).</p>`}
    ${w && html`<${Rollout} w=${w} />`}
    ${w && html`<${WorkloadPods} w=${w} />`}
    ${w && kind === 'Deployment' && html`<${History} w=${w} />`}`;
}

function Rollout({ w }) {
  const old = Math.max(0, w.current - w.upToDate);
  const strategy = w.strategy ? w.strategy + (w.strategy === 'RollingUpdate' && w.kind !== 'StatefulSet' ? ` (max surge ${w.maxSurge ?? 0}, max unavailable ${w.maxUnavailable ?? 0})` : '') : '';
  return html`<${Section} title="Rollout" id="rollout-h">
    <div class="rollout" data-testid="rollout" data-replicas=${w.replicas} data-updated=${w.upToDate} data-ready=${w.ready}
        data-available=${w.available} data-old=${old} data-progress=${w.progress}>
      ${w.message && html`<p class="msg-cell">${w.message}</p>`}
      <${ReplicaBar} replicas=${w.replicas} updated=${w.upToDate} old=${old} />
      <ul class="legend" aria-label="Replicas">
        <li><span class="sw sw-new"></span>${w.upToDate} updated</li>
        <li><span class="sw sw-old"></span>${old} old</li>
        <li>${w.ready} ready</li>
        <li>${w.available} available</li>
        <li>${w.replicas} desired${w.kind === 'DaemonSet' ? ' (eligible nodes)' : ''}</li>
      </ul>
      ${w.override && html`<div class="error-box" role="status">Running a template other than Git's: ${w.override}</div>`}
    </div>
    <${KV} rows=${[
      ['Revision', w.revisionNumber ? html`#${w.revisionNumber} <code class="hash">${w.revision}</code>` : html`<code class="hash">${w.revision || '—'}</code>`],
      w.commit && ['Commit', html`<${CommitRef} hash=${w.commit} />`],
      strategy && ['Strategy', strategy],
      w.kind === 'StatefulSet' && w.serviceName && ['Service', w.serviceName],
      w.kind === 'StatefulSet' && w.partition ? ['Partition', w.partition] : null,
      w.nodeSelector && ['Node selector', selectorString(w.nodeSelector)],
      ['Selector', html`<code>${selectorString(w.selector) || '—'}</code>`],
      ['Images', (w.images || []).map((i) => html`<div><code>${i}</code></div>`)],
      ['Created', html`<${Time} t=${w.created} />`],
    ]} />
    <h3>Conditions</h3>
    <${Conditions} items=${w.conditions} label=${'Conditions of ' + w.name} />
  <//>`;
}

// WorkloadPods lists the pods the workload owns, live. The server narrows
// the watch by the workload's selector; the owner check keeps exactly its
// own (another workload's pods may match the same labels).
function WorkloadPods({ w }) {
  const owner = wlKey(w);
  const sel = selectorString(w.selector);
  const pods = useWatchList('/v1/pods', { namespace: w.namespace, labelSelector: sel, view: 'summary' }, podKey);
  const mine = useMemo(() => pods.items.filter((p) => p.owner === owner), [pods.items, owner]);
  return html`<${Section} title=${`Pods (${mine.length})`} id="pods-h">
    <${ErrorBox} error=${pods.error} />
    <${PodTable} pods=${mine} empty=${pods.ready ? 'No pods.' : 'Loading…'} />
  <//>`;
}

// PodTable is a short list of pods (a workload's or a Job's); long lists
// are virtualised.
export function PodTable({ pods, empty }) {
  const now = useNow(10000);
  if (!pods.length) return html`<p class="muted">${empty}</p>`;
  const header = html`<span role="columnheader">Name</span><span role="columnheader">Ready</span><span role="columnheader">Status</span>
    <span role="columnheader" class="opt">Restarts</span><span role="columnheader" class="opt">Node</span><span role="columnheader">Age</span>`;
  const renderRow = (p) => {
    const s = podSummary(p);
    return html`<span role="gridcell"><${Link} to=${href(['pods', p.namespace, p.name])}>${p.name}<//></span>
      <span role="gridcell" class="num">${s.total ? s.ready + '/' + s.total : '—'}</span>
      <span role="gridcell"><${Badge} value=${s.terminating ? 'Terminating' : p.phase} />${s.reason && !s.terminating ? html` <span class=${reasonClass(s.reason)}>${s.reason}</span>` : ''}</span>
      <span role="gridcell" class="num opt">${s.restarts}</span>
      <span role="gridcell" class="opt">${p.node ? html`<${Link} to=${href(['nodes', p.node])}>${p.node}<//>` : '—'}</span>
      <span role="gridcell">${age(p.created, now)}</span>`;
  };
  return html`<div class="sub-list pod-sub">
    <${VirtualList} items=${pods} header=${header} renderRow=${renderRow} label="Pods" rowKey=${podKey}
      height=${Math.min(pods.length, 10) * 32 + 2} onOpen=${(p) => navigate(href(['pods', p.namespace, p.name]))} />
  </div>`;
}

// commitURLOf is the forge link of the applications' commits when they
// all share one (the history does not say which application declared a
// revision).
function useCommitURL() {
  const { data } = useFetch('/v1/applications');
  const urls = new Set(((data && data.applications) || []).map((a) => a.commitURL).filter(Boolean));
  return urls.size === 1 ? [...urls][0] : '';
}

// History is a Deployment's revisions, fetched again whenever the
// watched workload's current revision changes (a rollout), never on a
// timer.
function History({ w }) {
  const { data, error, loading } = useFetch(`/v1/deployments/${encodeURIComponent(w.namespace)}/${encodeURIComponent(w.name)}/history`,
    null, [w.revision, w.revisionNumber, w.commit]);
  const commitURL = useCommitURL();
  const revs = ((data && data.revisions) || []).slice().reverse(); // newest first
  const current = revs.find((r) => r.current);
  const prev = revs.find((r) => !r.current && (!current || r.number < current.number));
  const undo = (n) => `ctl rollout undo deployment/${w.name} -n ${w.namespace} --to-revision=${n}`;
  return html`<${Section} title="Revision history" id="history-h">
    <${ErrorBox} error=${error} />
    ${prev ? html`<div class="undo"><p>Roll back to the previous revision (#${prev.number}) with a commit in the config repository:</p>
      <${CommandLine} text=${undo(prev.number)} testid="undo-command" label=${'Copy the command that rolls back to revision ' + prev.number} /></div>`
    : !loading && html`<p class="muted">No earlier revision to roll back to.</p>`}
    ${revs.length > 0 && html`<div class="table-scroll"><table class="t history" aria-label="Revisions">
      <thead><tr><th scope="col">#</th><th scope="col">Commit</th><th scope="col" class="opt">Author</th><th scope="col">Subject</th>
        <th scope="col" class="opt">Time</th><th scope="col" class="opt">Images</th><th scope="col">State</th><th scope="col" class="opt">Roll back</th></tr></thead>
      <tbody>${revs.map((r) => html`<tr data-testid="revision" data-commit=${r.commit} data-number=${r.number} class=${r.current ? 'current' : ''}>
        <td class="num">${r.number}</td>
        <td><${CommitRef} hash=${r.commit} urlTemplate=${commitURL} /></td>
        <td class="opt">${r.author || ''}</td>
        <td class="msg-cell">${r.subject || ''}</td>
        <td class="opt"><${Time} t=${r.time} /></td>
        <td class="opt">${(r.images || []).map((i) => html`<div><code>${i}</code></div>`)}</td>
        <td>${r.current && html`<span class="badge ok">current</span>`} ${r.healthy ? html`<span class="badge ok" title="completed a rollout">healthy</span>` : html`<span class="badge warn" title="never completed a rollout">unproven</span>`}</td>
        <td class="opt">${!r.current && html`<${CommandLine} text=${undo(r.number)} label=${'Copy the command that rolls back to revision ' + r.number} />`}</td>
      </tr>`)}</tbody>
    </table></div>`}
  <//>`;
}

// ---- Jobs and CronJobs -------------------------------------------------------

// JobPage describes one Job (GET /v1/jobs/NS/NAME: the Job, its pods and
// events), fetched again when the Job's watch reports a change.
function JobPage({ ns, name }) {
  const list = useWatchList('/v1/jobs', { namespace: ns }, jobKey);
  const j = list.items.find((x) => x.name === name);
  const { data, error } = useFetch(`/v1/jobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, null, [j]);
  const d = data && data.job;
  return html`<nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['workloads'], { namespace: ns })}>Workloads<//> / ${ns}</nav>
    <div class="toolbar"><h1><span class="kind">Job</span> ${name}</h1>${j && html`<${Badge} value=${jobProgress(j)} />`}<${LiveDot} live=${list.live} /></div>
    <${ErrorBox} error=${error || list.error} />
    ${d && html`<${Section} title="Status" id="job-h">
      <${KV} rows=${[
        ['Completions', `${d.succeeded} succeeded of ${d.completions < 0 ? 'any (work queue)' : d.completions}, ${d.active} active, ${d.failed} failed`],
        ['Parallelism', d.parallelism], ['Completion mode', d.completionMode],
        d.completedIndexes && ['Completed indexes', d.completedIndexes], d.failedIndexes && ['Failed indexes', d.failedIndexes],
        d.cronJob && ['CronJob', html`<${Link} to=${href(['workloads', 'CronJob', ...d.cronJob.split('/')])}>${d.cronJob}<//>`],
        d.createdBy && ['Created by', d.createdBy],
        ['Started', html`<${Time} t=${d.startTime} />`], ['Finished', html`<${Time} t=${d.completionTime} />`],
        ['Images', (d.images || []).join(', ')],
      ]} />
      <h3>Conditions</h3><${Conditions} items=${d.conditions} />
    <//>
    <${Section} title=${`Pods (${(data.pods || []).length})`} id="job-pods-h"><${PodTable} pods=${data.pods || []} empty="No pods." /><//>
    <${Section} title="Events" id="job-ev-h"><${EventTable} events=${data.events} /><//>`}`;
}

function CronJobPage({ ns, name }) {
  const list = useWatchList('/v1/cronjobs', { namespace: ns }, cronKey);
  const c = list.items.find((x) => x.name === name);
  const { data, error } = useFetch(`/v1/cronjobs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`, null, [c]);
  const d = data && data.cronJob;
  return html`<nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['workloads'], { namespace: ns })}>Workloads<//> / ${ns}</nav>
    <div class="toolbar"><h1><span class="kind">CronJob</span> ${name}</h1><${LiveDot} live=${list.live} /></div>
    <${ErrorBox} error=${error || list.error} />
    ${d && html`<${Section} title="Schedule" id="cron-h">
      ${d.problem && html`<div class="error-box" role="alert">${d.problem}</div>`}
      <${KV} rows=${[
        ['Schedule', html`<code>${d.schedule}</code>${d.timeZone ? ' ' + d.timeZone : ''}`], ['Suspended', d.suspend ? 'yes' : 'no'],
        ['Concurrency', d.concurrencyPolicy], ['Last scheduled', html`<${Time} t=${d.lastScheduleTime} />`],
        ['Last success', html`<${Time} t=${d.lastSuccessfulTime} />`],
        ['Next', d.nextScheduleTime ? new Date(d.nextScheduleTime).toLocaleString() : '—'],
      ]} />
    <//>
    <${Section} title="Jobs" id="cron-jobs-h">
      ${(data.jobs || []).length ? html`<div class="table-scroll"><table class="t" aria-label="Jobs">
        <thead><tr><th scope="col">Name</th><th scope="col">Completions</th><th scope="col">State</th><th scope="col">Started</th></tr></thead>
        <tbody>${data.jobs.map((j) => html`<tr><td><${Link} to=${href(['workloads', 'Job', j.namespace, j.name])}>${j.name}<//></td>
          <td class="num">${j.succeeded}/${j.completions < 0 ? '—' : j.completions}</td><td><${Badge} value=${jobProgress(j)} /></td><td><${Time} t=${j.startTime} /></td></tr>`)}</tbody>
      </table></div>` : html`<p class="muted">No jobs.</p>`}
    <//>
    <${Section} title="Events" id="cron-ev-h"><${EventTable} events=${data.events} /><//>`}`;
}
