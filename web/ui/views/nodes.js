// The nodes pages: the list (/ui/nodes), followed live, with what each
// node offers against what its pods request; and one node (/ui/nodes/NAME):
// its agent's conditions, capacity, allocatable and requests, its pods,
// its events, and the cordon, uncordon and drain actions RBAC allows.
import {
  html, useMemo, api, useWatchList, useFetch, VirtualList, Badge, Time, age, ActionButton, ErrorBox,
  LiveDot, Section, KV, Link, href, navigate, useNow,
} from '../lib.js';
import { EventTable, eventKey, newestFirst } from './events.js';

export default function Page({ route }) {
  const name = route.segs[1];
  return name ? html`<${NodePage} name=${name} />` : html`<${NodeList} />`;
}

const nodeName = (n) => n.name;

// cpu renders millicores as Kubernetes quantities do: "2", "1.5", "250m".
export function cpu(m) {
  if (!m) return '0';
  return m % 1000 === 0 ? String(m / 1000) : m >= 1000 ? (m / 1000).toFixed(2).replace(/0+$/, '').replace(/\.$/, '') : m + 'm';
}

// bytes renders a size in binary units: "7.8Gi", "512Mi".
export function bytes(b) {
  if (!b) return '0';
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (v >= 100 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)) + units[i];
}

// roles are the node's node-role.kubernetes.io/ROLE labels, as kubectl's
// ROLES column.
function roles(n) {
  return Object.keys(n.labels || {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice(24)).filter(Boolean);
}

// The kubelet's pressure taints (agent/pressure.go): a node under pressure
// advertises them, so the list shows pressure without asking each agent.
const PRESSURE = {
  'node.kubernetes.io/memory-pressure': 'MemoryPressure',
  'node.kubernetes.io/disk-pressure': 'DiskPressure',
  'node.kubernetes.io/pid-pressure': 'PIDPressure',
};

function pressures(n) {
  return (n.taints || []).map((t) => PRESSURE[t.key]).filter(Boolean);
}

// Usage is a bar of used against total, with the figures beside it; it
// turns amber past 80% and red past 100% (overcommitted).
export function Usage({ used, total, fmt, label }) {
  const pct = total > 0 ? Math.round((used / total) * 100) : 0;
  const cls = pct > 100 ? 'bar bad' : pct >= 80 ? 'bar warn' : 'bar';
  const text = `${fmt(used)} / ${fmt(total)}`;
  return html`<span class="usage" title=${`${label}: ${text} (${pct}%)`}>
    <span class=${cls} role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax=${total} aria-valuenow=${used} aria-valuetext=${`${text} (${pct}%)`}>
      <span style=${`width:${Math.min(100, pct)}%`}></span></span>
    <span class="usage-text">${pct}%<span class="opt"> · ${text}</span></span>
  </span>`;
}

// StatusBadge shows kubectl's STATUS: Ready, NotReady, or Ready with
// scheduling disabled (cordoned or drained).
function StatusBadge({ n }) {
  const ready = n.status === 'Ready' || n.status === 'Ready,SchedulingDisabled';
  return html`<span class="status-cell">
    <${Badge} value=${ready ? 'Ready' : n.status || n.state} title=${n.statusSince ? 'since ' + new Date(n.statusSince).toLocaleString() : ''} />
    ${n.drained ? html` <span class="tag warn-tag">drained</span>` : n.cordoned ? html` <span class="tag warn-tag">cordoned</span>` : ''}
    ${n.state && n.state !== 'Alive' ? html` <span class="tag">${n.state}</span>` : ''}
  </span>`;
}

function NodeRow({ n, now }) {
  const r = roles(n);
  const p = pressures(n);
  return html`<div class="cells" data-testid="node-row" data-name=${n.name} data-status=${n.status}>
    <span><${Link} to=${href(['nodes', n.name])}>${n.name}<//></span>
    <${StatusBadge} n=${n} />
    <span class="opt muted" title=${Object.entries(n.labels || {}).map(([k, v]) => k + '=' + v).join('\n')}>${r.length ? r.join(',') : '<none>'}</span>
    <span class="num">${n.pods}<span class="muted opt">/${n.allocatable.pods || '?'}</span></span>
    <span class="opt"><${Usage} used=${n.requested.milliCPU} total=${n.allocatable.milliCPU} fmt=${cpu} label=${`CPU requested on ${n.name}`} /></span>
    <span class="opt"><${Usage} used=${n.requested.memory} total=${n.allocatable.memory} fmt=${bytes} label=${`Memory requested on ${n.name}`} /></span>
    <span class=${p.length ? 'bad-text' : 'muted'}>${p.length ? p.join(', ') : n.error ? html`<span class="bad-text" title=${n.error}>pod set refused</span>` : 'none'}</span>
    <span class="opt">${age(n.since, now)}</span>
  </div>`;
}

function NodeList() {
  const now = useNow(30000);
  const w = useWatchList('/v1/nodes', {}, nodeName);
  const notReady = w.items.filter((n) => n.status !== 'Ready' && n.status !== 'Ready,SchedulingDisabled').length;
  const header = html`<div class="cells">
    <span>Name</span><span>Status</span><span class="opt">Roles</span><span class="num">Pods</span>
    <span class="opt">CPU requested</span><span class="opt">Memory requested</span><span>Pressure</span><span class="opt">Age</span>
  </div>`;
  return html`<div class="listpage nodes-list">
    <div class="toolbar">
      <h1>Nodes</h1>
      <${LiveDot} live=${w.live} />
      <span class="muted" aria-live="polite">${w.items.length} node${w.items.length === 1 ? '' : 's'}${notReady ? `, ${notReady} not ready` : ''}</span>
    </div>
    <${ErrorBox} error=${w.error} />
    ${w.ready && !w.items.length && !w.error ? html`<p class="muted">No nodes have joined.</p>` : ''}
    <${VirtualList} items=${w.items} rowHeight=${36} label="Nodes" header=${header}
      renderRow=${(n) => html`<${NodeRow} n=${n} now=${now} />`} onOpen=${(n) => navigate(href(['nodes', n.name]))} rowKey=${nodeName} />
  </div>`;
}

// ---- one node ----------------------------------------------------------------

function Conditions({ status, error }) {
  if (!status) {
    return html`<p class="muted" data-testid="node-conditions">${error ? 'The agent did not answer: ' + error : 'Loading…'}</p>`;
  }
  const conds = status.conditions || [];
  return html`<div class="table-scroll"><table class="t" data-testid="node-conditions" aria-label="Conditions">
    <thead><tr><th>Type</th><th>Status</th><th class="opt">Since</th><th>Reason</th><th class="opt">Message</th></tr></thead>
    <tbody>${conds.map((c) => {
      // Ready=True is good; a pressure condition is good when False.
      const good = c.type === 'Ready' ? c.status === 'True' : c.status === 'False';
      return html`<tr data-type=${c.type} data-status=${c.status}>
        <td>${c.type}</td>
        <td><span class=${'badge ' + (good ? 'ok' : c.status === 'Unknown' ? 'warn' : 'bad')}>${c.status}</span></td>
        <td class="opt"><${Time} t=${c.lastTransitionTime} /></td>
        <td>${c.reason}</td>
        <td class="opt wrap">${c.message}</td>
      </tr>`;
    })}</tbody>
  </table></div>`;
}

// Resources is kubectl describe node's Capacity, Allocatable and
// "Allocated resources" in one table, with requests as bars.
function Resources({ d }) {
  const n = d.node;
  const cap = (d.status && d.status.capacity) || null;
  const rows = [
    ['CPU', 'milliCPU', cpu],
    ['Memory', 'memory', bytes],
    ['Ephemeral storage', 'ephemeralStorage', bytes],
    ['Pods', 'pods', String],
  ];
  const ext = Object.keys({ ...(n.allocatable.extended || {}), ...((cap && cap.extended) || {}) }).sort();
  const req = d.requests || n.requested;
  const lim = d.limits || {};
  return html`<div class="table-scroll"><table class="t" aria-label="Resources">
    <thead><tr><th>Resource</th><th class="opt">Capacity</th><th>Allocatable</th><th>Requests</th><th class="opt">Limits</th><th class="opt">Requested share</th></tr></thead>
    <tbody>
      ${rows.filter(([, k]) => n.allocatable[k] || (cap && cap[k])).map(([label, k, fmt]) => {
        const used = k === 'pods' ? (d.pods || []).length : req[k] || 0;
        return html`<tr>
          <td>${label}</td>
          <td class="opt">${cap ? fmt(cap[k] || 0) : '—'}</td>
          <td>${fmt(n.allocatable[k] || 0)}</td>
          <td>${fmt(used)}</td>
          <td class="opt">${k === 'pods' ? '' : fmt(lim[k] || 0)}</td>
          <td class="opt">${n.allocatable[k] ? html`<${Usage} used=${used} total=${n.allocatable[k]} fmt=${fmt} label=${label + ' requested'} />` : ''}</td>
        </tr>`;
      })}
      ${ext.map((k) => html`<tr>
        <td><code>${k}</code></td>
        <td class="opt">${cap && cap.extended ? cap.extended[k] || 0 : '—'}</td>
        <td>${(n.allocatable.extended || {})[k] || 0}</td>
        <td>${(req.extended || {})[k] || 0}</td>
        <td class="opt">${(lim.extended || {})[k] || 0}</td>
        <td class="opt"></td>
      </tr>`)}
    </tbody>
  </table></div>`;
}

function NodePods({ pods }) {
  const now = useNow(30000);
  if (!pods.length) return html`<p class="muted">No pods.</p>`;
  return html`<div class="table-scroll"><table class="t" aria-label="Pods on this node">
    <thead><tr><th>Namespace</th><th>Name</th><th>CPU requests</th><th class="opt">CPU limits</th><th>Memory requests</th><th class="opt">Memory limits</th><th class="opt">Age</th></tr></thead>
    <tbody>${pods.map((p) => html`<tr data-testid="node-pod" data-key=${p.namespace + '/' + p.name}>
      <td>${p.namespace}</td>
      <td><${Link} to=${href(['pods', p.namespace, p.name])}>${p.name}<//></td>
      <td>${cpu(p.requests.milliCPU)}</td><td class="opt">${cpu(p.limits.milliCPU)}</td>
      <td>${bytes(p.requests.memory)}</td><td class="opt">${bytes(p.limits.memory)}</td>
      <td class="opt">${age(p.created, now)}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Images({ images }) {
  if (!images || !images.length) return null;
  return html`<details class="section">
    <summary><h2 class="inline">Images (${images.length})</h2></summary>
    <div class="table-scroll"><table class="t" aria-label="Images">
      <thead><tr><th>Name</th><th>Size</th><th class="opt">Last used</th><th>In use</th></tr></thead>
      <tbody>${images.map((im) => html`<tr>
        <td class="wrap"><code>${(im.names || []).join(', ')}</code></td>
        <td>${bytes(im.sizeBytes)}</td>
        <td class="opt"><${Time} t=${im.lastUsed} /></td>
        <td>${im.inUse ? 'yes' : ''}</td>
      </tr>`)}</tbody>
    </table></div>
  </details>`;
}

// nodeAction posts one of the node routes (cordon, uncordon, drain).
function nodeAction(name, what) {
  return () => api(`/v1/nodes/${encodeURIComponent(name)}/${what}`, { method: 'POST' });
}

function Actions({ n, onDone }) {
  const name = n.name;
  const patch = { verb: 'patch', group: '', resource: 'nodes', name };
  return html`<span class="actions-bar">
    ${!n.cordoned && !n.drained && html`<${ActionButton} label="Cordon" check=${patch} confirmTitle=${`Cordon ${name}?`}
      confirmText="No new pod will be placed on this node; its pods keep running. Git stays the durable way (a Node object with spec.unschedulable)."
      run=${nodeAction(name, 'cordon')} onDone=${onDone} />`}
    ${(n.cordoned || n.drained) && html`<${ActionButton} label="Uncordon" check=${patch} confirmTitle=${`Uncordon ${name}?`}
      confirmText="Pods may be placed on this node again."
      run=${nodeAction(name, 'uncordon')} onDone=${onDone} />`}
    ${!n.drained && html`<${ActionButton} label="Drain" check=${{ verb: 'create', group: '', resource: 'nodes', subresource: 'drain', name }}
      confirmTitle=${`Drain ${name}?`}
      confirmText=${`The node is cordoned and its ${n.pods} pod(s) are evicted: each is placed again on another node.`}
      run=${nodeAction(name, 'drain')} onDone=${onDone} />`}
  </span>`;
}

function NodePage({ name }) {
  const w = useWatchList('/v1/nodes', {}, nodeName);
  const watched = useMemo(() => w.items.find((n) => n.name === name), [w.items, name]);
  // The describe again whenever the watched node changes (its status,
  // pods, requests, cordon), never on a timer.
  const dep = watched ? JSON.stringify(watched) : '';
  const d = useFetch(`/v1/nodes/${encodeURIComponent(name)}`, null, [dep]);
  const ev = useWatchList('/v1/events', { object: 'node/' + name }, eventKey);
  const events = useMemo(() => newestFirst(ev.items), [ev.items]);
  const desc = d.data;
  const n = watched || (desc && desc.node);
  if (!n) {
    return html`<nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['nodes'])}>Nodes<//> /</nav>
      <h1>${name}</h1>${d.error ? html`<${ErrorBox} error=${d.error} />` : html`<p class="muted">Loading…</p>`}`;
  }
  const st = desc && desc.status;
  return html`<div class="node-page">
    <nav class="crumbs" aria-label="Breadcrumb"><${Link} to=${href(['nodes'])}>Nodes<//> /</nav>
    <div class="toolbar">
      <h1>${name}</h1>
      <${StatusBadge} n=${n} />
      <${LiveDot} live=${w.live} />
      <${Actions} n=${n} onDone=${d.reload} />
    </div>
    ${n.error && html`<div class="error-box" role="alert">Its last pod set was not applied: ${n.error}</div>`}
    ${pressures(n).length > 0 && html`<div class="error-box" role="alert">Under pressure: ${pressures(n).join(', ')}</div>`}
    <${ErrorBox} error=${d.error} />
    <${Section} title="Conditions" id="cond-h">
      <${Conditions} status=${st} error=${desc && desc.statusError} />
    <//>
    <${Section} title="Resources" id="res-h">
      ${desc ? html`<${Resources} d=${desc} />` : html`<p class="muted">Loading…</p>`}
    <//>
    <${Section} title="Node" id="info-h">
      <${KV} rows=${[
        ['State', n.state],
        ['Joined', html`<${Time} t=${n.since} />`],
        ['Address', html`<code>${n.addr}</code>`],
        ['Agent API', html`<code>${n.apiAddr}</code>`],
        n.podCIDR && ['Pod CIDR', html`<code>${n.podCIDR}</code>`],
        ['Labels', Object.keys(n.labels || {}).length ? html`<span class="labels">${Object.entries(n.labels).sort().map(([k, v]) => html`<code class="label">${k}=${v}</code> `)}</span>` : '<none>'],
        ['Taints', (n.taints || []).length ? html`<span class="labels">${n.taints.map((t) => html`<code class="label">${t.key}${t.value ? '=' + t.value : ''}:${t.effect}</code> `)}</span>` : '<none>'],
        st && st.osImage && ['OS image', st.osImage],
        st && st.kernelVersion && ['Kernel', st.kernelVersion],
        ['Pod set generation', String(n.generation)],
      ]} />
    <//>
    <${Section} title=${`Pods (${desc ? (desc.pods || []).length : n.pods})`} id="pods-h">
      ${desc ? html`<${NodePods} pods=${desc.pods || []} />` : html`<p class="muted">Loading…</p>`}
      <p><${Link} to=${href(['pods'], { fieldSelector: 'spec.nodeName=' + name })}>These pods on the pods page<//></p>
    <//>
    ${st && html`<${Images} images=${st.images} />`}
    <${Section} title="Events" id="events-h">
      <p class="muted"><span class=${'live' + (ev.live ? ' on' : '')}>${ev.live ? 'live' : 'connecting…'}</span> · <${Link} to=${href(['events'], { object: 'node/' + name })}>On the events page<//></p>
      <${ErrorBox} error=${ev.error} />
      <${EventTable} events=${events} label=${`Events of ${name}`} />
    <//>
  </div>`;
}
