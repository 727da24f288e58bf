// The pods pages: every pod, live and filtered by the server (namespace,
// q, labelSelector, fieldSelector; the summary view), fast at 10,000; one
// pod's status, containers, events and, while it is Pending, the
// scheduler's explanation; its logs (logs.js).
import {
  html, useMemo, useWatchList, useFetch, api, navigate, href, setQuery, Link, VirtualList, Badge, Time, age,
  ErrorBox, FilterBox, NamespaceSelect, LiveDot, Section, KV, ActionButton, useNow,
} from '../lib.js';
import {
  contains, parseLabelSelector, parsePodFieldSelector, withFieldTerm, fieldTermValue, podKey, podSummary, qosClass,
  probeText, reasonClass, Conditions, EventTable, useChangeSignal,
} from './common-b.js';
import Logs from './logs.js';

const PHASES = ['Running', 'Pending', 'Succeeded', 'Failed', 'Unknown'];

export default function Page({ route }) {
  const [, ns, name, sub] = route.segs;
  if (ns && name && sub === 'logs') return html`<${Logs} key=${ns + '/' + name} ns=${ns} name=${name} q=${route.q} />`;
  if (ns && name) return html`<${PodPage} key=${ns + '/' + name} ns=${ns} name=${name} />`;
  return html`<${PodList} q=${route.q} />`;
}

// ---- the list --------------------------------------------------------------

// clientFilter applies the page's filters again in the browser, so that a
// server that ignores one still shows the right pods; it fails the way
// the server does on a selector it cannot read.
function clientFilter(q) {
  try {
    const labels = parseLabelSelector(q.labelSelector);
    const fields = parsePodFieldSelector(q.fieldSelector);
    const text = q.q || '';
    return { keep: (p) => labels(p.labels) && fields(p) && contains(text, p.namespace + '/' + p.name, p.node, p.phase, p.reason, p.podIP) };
  } catch (err) {
    return { error: err };
  }
}

function PodList({ q }) {
  const now = useNow(10000);
  const ns = q.namespace || '';
  const pods = useWatchList('/v1/pods', {
    namespace: ns, q: q.q, labelSelector: q.labelSelector, fieldSelector: q.fieldSelector, view: 'summary',
  }, podKey);
  const filter = useMemo(() => clientFilter(q), [q.q, q.labelSelector, q.fieldSelector]);
  const items = useMemo(() => (filter.keep ? pods.items.filter(filter.keep) : []), [pods.items, filter]);
  const phase = fieldTermValue(q.fieldSelector, 'status.phase');
  const node = fieldTermValue(q.fieldSelector, 'spec.nodeName');
  const nodes = useFetch('/v1/nodes');
  const nodeNames = ((nodes.data && nodes.data.nodes) || []).map((n) => n.name);
  if (node && !nodeNames.includes(node)) nodeNames.push(node);
  const open = (p) => navigate(href(['pods', p.namespace, p.name]));
  const header = html`<span role="columnheader">Name</span><span role="columnheader" title="Ready containers">Ready</span>
    <span role="columnheader">Status</span><span role="columnheader" class="opt">Restarts</span>
    <span role="columnheader" class="opt">Node</span><span role="columnheader" class="opt">IP</span><span role="columnheader">Age</span>`;
  // Constant work per row: the summary is computed once per pod object.
  const renderRow = (p) => {
    const s = podSummary(p);
    return html`<span class="contents" role="presentation" data-testid="pod-row" data-key=${p.namespace + '/' + p.name}>
      <span role="gridcell"><${Link} to=${href(['pods', p.namespace, p.name])}><span class="muted">${p.namespace}/</span>${p.name}<//></span>
      <span role="gridcell" class="num">${s.total ? s.ready + '/' + s.total : '—'}</span>
      <span role="gridcell" title=${p.message || s.reason}><${Badge} value=${s.terminating ? 'Terminating' : p.phase} />${s.reason && !s.terminating ? html` <span class=${reasonClass(s.reason)}>${s.reason}</span>` : ''}</span>
      <span role="gridcell" class=${'num opt' + (s.restarts ? ' bad-text' : '')}>${s.restarts}</span>
      <span role="gridcell" class="opt">${p.node ? html`<${Link} to=${href(['nodes', p.node])}>${p.node}<//>` : html`<span class="muted">—</span>`}</span>
      <span role="gridcell" class="opt mono">${p.podIP || ''}</span>
      <span role="gridcell">${age(p.created, now)}</span>
    </span>`;
  };
  return html`<div class="toolbar">
      <h1>Pods</h1>
      <${NamespaceSelect} value=${ns} />
      <${FilterBox} value=${q.q} placeholder="Filter pods" />
      <${LiveDot} live=${pods.live} />
    </div>
    <div class="toolbar filters">
      <div class="seg" role="group" aria-label="Phase">
        ${['', ...PHASES].map((ph) => html`<button type="button" aria-pressed=${phase === ph}
          onClick=${() => setQuery({ fieldSelector: withFieldTerm(q.fieldSelector, 'status.phase', ph) })}>${ph || 'All'}</button>`)}
      </div>
      <select aria-label="Node" value=${node} onChange=${(e) => setQuery({ fieldSelector: withFieldTerm(q.fieldSelector, 'spec.nodeName', e.currentTarget.value) })}>
        <option value="">All nodes</option>
        ${nodeNames.map((n) => html`<option value=${n}>${n}</option>`)}
      </select>
      <${FilterBox} value=${q.labelSelector} placeholder="Labels (app=web)" name="labelSelector" />
      <${FilterBox} value=${q.fieldSelector} placeholder="Field selector" name="fieldSelector" />
      <span class="count"><span data-testid="count">${items.length}</span> pods</span>
    </div>
    <${ErrorBox} error=${pods.error || filter.error} />
    ${pods.ready && !items.length && !pods.error && html`<p class="muted empty">No pods${ns ? ' in ' + ns : ''}${q.q || q.labelSelector || q.fieldSelector
      ? html` match these filters. <${Link} to=${href(['pods'], { namespace: ns })}>Clear the filters<//>` : '.'}</p>`}
    ${!pods.ready ? html`<p class="muted">Loading…</p>` : html`<div class="pod-list">
      <${VirtualList} items=${items} header=${header} renderRow=${renderRow} onOpen=${open} label="Pods" rowKey=${podKey} />
    </div>`}`;
}

// ---- one pod ---------------------------------------------------------------

// PodPage shows GET /v1/pods/NS/NAME, fetched again whenever the pod's
// watch or its events' watch reports a change: live without a timer.
function PodPage({ ns, name }) {
  const podSig = useChangeSignal('/v1/pods', { namespace: ns, fieldSelector: 'metadata.name=' + name, view: 'summary' },
    (p) => p.name === name);
  const evSig = useChangeSignal('/v1/events', { namespace: ns, object: `Pod/${ns}/${name}` }, (e) => e.object === `Pod/${ns}/${name}`);
  const path = `/v1/pods/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
  const { data, error, reload } = useFetch(path, null, [podSig.n, evSig.n]);
  const d = data;
  const p = d && d.pod;
  return html`<nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['pods'], { namespace: ns })}>Pods<//> / ${ns}</nav>
    <div class="toolbar">
      <h1>${name}</h1>
      ${p && html`<span data-testid="pod-phase" class=${'badge ' + phaseClass(p)}>${p.reason === 'Terminating' ? 'Terminating' : p.phase}</span>`}
      <${LiveDot} live=${podSig.live} />
      ${p && p.node && html`<${Link} to=${href(['pods', ns, name, 'logs'])} class="button">Logs<//>`}
      <${ActionButton} check=${{ verb: 'delete', resource: 'pods', namespace: ns, name }} label="Delete pod"
        confirmTitle=${`Delete pod ${ns}/${name}?`}
        confirmText=${'Its containers are stopped. A pod of a workload is re-created by its owner; a bare Pod comes back at the next plan, as Git still declares it.'}
        run=${() => api(path, { method: 'DELETE' })} onDone=${reload} />
    </div>
    <${ErrorBox} error=${error} />
    ${p && html`<${PodDetails} d=${d} />`}`;
}

function phaseClass(p) {
  if (p.reason === 'Terminating') return 'warn';
  if (p.phase === 'Running' || p.phase === 'Succeeded') return 'ok';
  if (p.phase === 'Failed' || p.phase === 'Unknown') return 'bad';
  return 'warn';
}

function PodDetails({ d }) {
  const p = d.pod;
  const st = p.status || {};
  const spec = p.spec || {};
  const ownerParts = p.owner ? p.owner.split('/') : null;
  const labels = Object.entries(p.labels || {});
  return html`
    ${p.phase === 'Pending' && html`<${WhyPending} p=${p} sched=${d.scheduling} />`}
    ${(p.reason || p.message) && p.phase !== 'Pending' && html`<p class=${p.phase === 'Failed' ? 'error-box' : 'note'}>${p.reason}${p.message ? ': ' + p.message : ''}</p>`}
    <${Section} title="Status" id="pod-status-h">
      <${KV} rows=${[
        ['Namespace', p.namespace],
        ['Node', p.node ? html`<${Link} to=${href(['nodes', p.node])}>${p.node}<//>` : html`<span class="muted">not scheduled</span>`],
        ['Pod IP', p.podIP ? html`<code>${p.podIP}</code>` : '—'],
        ['QoS class', qosClass(spec)],
        ownerParts && ['Controlled by', ownerParts.length === 3
          ? html`<${Link} to=${href(['workloads', ...ownerParts])}>${p.owner}<//>` : p.owner],
        ['Created', html`<${Time} t=${p.created} />`],
        st.startTime && ['Started', html`<${Time} t=${st.startTime} />`],
        st.deletionTimestamp && ['Terminating since', html`<${Time} t=${st.deletionTimestamp} />`],
        spec.restartPolicy && ['Restart policy', spec.restartPolicy],
        spec.serviceAccountName && ['Service account', spec.serviceAccountName],
        spec.nodeSelector && ['Node selector', Object.entries(spec.nodeSelector).map(([k, v]) => k + '=' + v).join(', ')],
        ['UID', html`<code>${p.uid}</code>`],
        ['Labels', labels.length ? html`<span class="labels">${labels.map(([k, v]) => html`<code class="label">${k}=${v}</code> `)}</span>` : '—'],
      ]} />
      <h3>Conditions</h3>
      <${Conditions} items=${st.conditions} label="Pod conditions" />
    <//>
    <${Section} title="Containers" id="pod-containers-h">
      <div class="cards containers">
        ${(spec.initContainers || []).map((c) => html`<${Container} c=${c} s=${(st.initContainerStatuses || []).find((x) => x.name === c.name)} init=${true} p=${p} />`)}
        ${containerList(spec, st).map(([c, s]) => html`<${Container} c=${c} s=${s} p=${p} />`)}
      </div>
    <//>
    <${Section} title="Events" id="pod-events-h"><${EventTable} events=${d.events} /><//>`;
}

// containerList pairs the spec's containers with their statuses (a
// status without a spec, from a summary, still shows).
function containerList(spec, st) {
  const out = (spec.containers || []).map((c) => [c, (st.containers || []).find((x) => x.name === c.name)]);
  for (const s of st.containers || []) if (!out.some(([c]) => c.name === s.name)) out.push([{ name: s.name, image: s.image }, s]);
  return out;
}

function stateOf(state) {
  if (!state) return null;
  if (state.running) return { label: 'Running', cls: 'ok', detail: html`since <${Time} t=${state.running.startedAt} />` };
  if (state.waiting) return { label: state.waiting.reason || 'Waiting', cls: /BackOff|Err|Invalid/.test(state.waiting.reason || '') ? 'bad' : 'warn', detail: state.waiting.message };
  if (state.terminated) {
    const t = state.terminated;
    return {
      label: t.reason || 'Terminated', cls: t.exitCode === 0 ? 'ok' : 'bad',
      detail: html`exit code ${t.exitCode}${t.signal ? `, signal ${t.signal}` : ''}${t.finishedAt ? html`, finished <${Time} t=${t.finishedAt} />` : ''}${t.message ? html`<pre class="termmsg">${t.message}</pre>` : ''}`,
    };
  }
  return null;
}

function Container({ c, s, init, p }) {
  const cur = stateOf(s && s.state);
  const last = s && s.lastState && s.lastState.terminated ? stateOf(s.lastState) : null;
  const probes = [['Liveness', c.livenessProbe], ['Readiness', c.readinessProbe], ['Startup', c.startupProbe]].filter(([, pr]) => pr);
  const req = (c.resources && c.resources.requests) || {};
  const lim = (c.resources && c.resources.limits) || {};
  const res = Object.keys({ ...req, ...lim }).map((k) => `${k} ${req[k] || '—'}/${lim[k] || '—'}`).join(', ');
  return html`<div class="card container" data-testid="container" data-name=${c.name}>
    <h3>${c.name}${init ? html` <span class="muted">(init)</span>` : ''}</h3>
    <${KV} rows=${[
      ['Image', html`<code>${c.image || (s && s.image) || '—'}</code>`],
      ['State', cur ? html`<span class=${'badge ' + cur.cls}>${cur.label}</span> ${cur.detail || ''}` : html`<span class="muted">not reported</span>`],
      ['Ready', s ? (s.ready ? 'yes' : html`<span class="bad-text">no</span>`) : '—'],
      ['Restarts', s ? html`<span class=${s.restartCount ? 'bad-text' : ''}>${s.restartCount}</span>` : '—'],
      last && ['Last termination', html`<span class=${'badge ' + last.cls}>${last.label}</span> ${last.detail}`],
      res && ['Requests/limits', res],
      ...probes.map(([k, pr]) => [k + ' probe', html`<code>${probeText(pr)}</code>`]),
    ]} />
    ${!init && p.node && html`<p><${Link} to=${href(['pods', p.namespace, p.name, 'logs'], { container: c.name, follow: 1 })}>Logs of ${c.name}<//>${s && s.restartCount ? html` · <${Link} to=${href(['pods', p.namespace, p.name, 'logs'], { container: c.name, previous: 1 })}>previous instance<//>` : ''}</p>`}
  </div>`;
}

// WhyPending says why the pod has no node, or what it waits for on its
// node: the scheduler's explanation, node by node.
function WhyPending({ p, sched }) {
  // On a node, what keeps it Pending is its containers' waiting reasons.
  const waiting = [...((p.status && p.status.initContainerStatuses) || []), ...((p.status && p.status.containers) || [])]
    .filter((c) => c.state && c.state.waiting && c.state.waiting.reason !== p.reason) // the pod's reason names it already
    .map((c) => `container ${c.name}: ${c.state.waiting.reason || 'waiting'}${c.state.waiting.message ? ' (' + c.state.waiting.message + ')' : ''}`);
  let why = [p.reason && p.message ? p.reason + ': ' + p.message : p.message || p.reason, ...waiting].filter(Boolean).join('; ')
    || (p.node ? `Placed on ${p.node}; waiting for its containers to start.` : 'Waiting for a node.');
  if (sched) why = sched.error || sched.reason || (sched.node ? `It fits on ${sched.node}: the next plan places it there.` : why);
  const verdicts = (sched && sched.nodes) || [];
  return html`<section class="section pending-why" aria-labelledby="why-h">
    <h2 id="why-h">Why is it pending?</h2>
    <div class="error-box" data-testid="why-pending" role="status">${why}</div>
    ${verdicts.length > 0 && html`<div class="table-scroll"><table class="t" aria-label="Scheduler verdicts by node">
      <thead><tr><th scope="col">Node</th><th scope="col">Verdict</th><th scope="col">Reasons or score</th></tr></thead>
      <tbody>${verdicts.map((v) => html`<tr>
        <td><${Link} to=${href(['nodes', v.node])}>${v.node}<//></td>
        <td>${v.filter ? html`<span class="badge bad">${v.filter}</span>` : html`<span class="badge ok">fits</span>`}</td>
        <td class="msg-cell">${v.filter ? (v.reasons || []).join('; ') : `score ${v.total}` + (v.scores ? ' (' + Object.entries(v.scores).map(([k, n]) => `${k} ${n}`).join(', ') + ')' : '')}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}
