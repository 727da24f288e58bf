// The events page (/ui/events): the reconciler's and the agents' events,
// newest first, followed live. Its filters live in the address (namespace,
// object, type, q) so that a filtered page deep-links; the server applies
// them, and the page applies them again, so an older reconciler that
// ignores one still shows what the address says. The pieces other pages
// show events with (objectHref, eventKey, EventTable) are exported here.
import {
  html, useMemo, useWatchList, VirtualList, Badge, Link, href, navigate, setQuery, age, useNow,
  ErrorBox, FilterBox, NamespaceSelect, LiveDot,
} from '../lib.js';

// The kinds the workloads pages show (/ui/workloads/KIND/NS/NAME).
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob']);

// objectHref is the UI page of an event's object ("Pod/ns/name",
// "Deployment/ns/name", "node/NAME", "application/APP/commit/HASH"), or
// null when the UI has none (a commit of the bootstrap repository, the
// repository, a reconciler).
export function objectHref(obj) {
  if (!obj) return null;
  const parts = obj.split('/');
  const kind = parts[0];
  if (parts.length === 3 && kind === 'Pod') return href(['pods', parts[1], parts[2]]);
  if (parts.length === 3 && WORKLOAD_KINDS.has(kind)) return href(['workloads', kind, parts[1], parts[2]]);
  if (kind === 'node' && parts.length > 1) return href(['nodes', parts.slice(1).join('/')]);
  if (kind === 'application' && parts.length > 1) return href(['apps', parts[1]]);
  return null;
}

// ObjectLink shows an event's object, linked to its page when it has one.
export function ObjectLink({ object }) {
  const to = objectHref(object);
  return to ? html`<${Link} to=${to} title=${object}>${object}<//>` : html`<span title=${object}>${object}</span>`;
}

// eventKey identifies an event across a watch's ADDED and MODIFIED: what
// the reconciler folds repeats by (its eventKey), since the wire carries no
// id. A repeat changes Count and Time, not the key.
export function eventKey(e) {
  return [e.type || '', e.source || '', e.object, e.uid || '', e.container || '', e.reason, e.message].join('\u0000');
}

// eventType is an event's type; an older reconciler sends none for Normal.
export function eventType(e) {
  return e.type || 'Normal';
}

// newestFirst sorts events by last occurrence, newest first (the wire's
// order is oldest first).
export function newestFirst(items) {
  return items.slice().sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}

// matches applies the page's filters as the server does (api.EventMatches'
// namespace is the object's, "default" for a cluster-level object;
// QueryFilter is a case-insensitive substring of namespace/name, reason,
// message or object).
function matches(e, { type, q }) {
  if (type && eventType(e) !== type) return false;
  if (q) {
    const s = q.toLowerCase();
    const hay = (e.object + '\n' + e.reason + '\n' + e.message).toLowerCase();
    if (!hay.includes(s)) return false;
  }
  return true;
}

// EventTable is a short list of events (a node's, an application's), newest
// first, in a plain table.
export function EventTable({ events, label = 'Events' }) {
  const now = useNow();
  if (!events.length) return html`<p class="muted">No events.</p>`;
  return html`<div class="table-scroll"><table class="t" aria-label=${label}>
    <thead><tr><th>Last seen</th><th>Type</th><th>Reason</th><th class="opt">Object</th><th>Message</th><th class="opt">Count</th></tr></thead>
    <tbody>${events.map((e) => html`<tr data-testid="event-row">
      <td><time datetime=${e.time} title=${new Date(e.time).toLocaleString()}>${age(e.time, now)}</time></td>
      <td><${Badge} value=${eventType(e)} /></td>
      <td>${e.reason}</td>
      <td class="opt"><${ObjectLink} object=${e.object} /></td>
      <td class="wrap">${e.message}${e.source ? html` <span class="muted">(${e.source})</span>` : ''}</td>
      <td class="opt">${e.count || 1}</td>
    </tr>`)}</tbody>
  </table></div>`;
}

const TYPES = ['', 'Normal', 'Warning'];

function TypeSelect({ value }) {
  return html`<select aria-label="Event type" value=${value} onChange=${(e) => setQuery({ type: e.currentTarget.value })}>
    ${TYPES.map((t) => html`<option value=${t}>${t || 'All types'}</option>`)}
  </select>`;
}

function header() {
  return html`<div class="cells">
    <span title="Last seen">Seen</span><span class="opt">Type</span><span>Reason</span><span class="opt">Object</span><span>Message</span><span class="opt num">Count</span>
  </div>`;
}

export default function Page({ route }) {
  const { namespace = '', object = '', type = '', q = '' } = route.q;
  const now = useNow();
  const w = useWatchList('/v1/events', { namespace, object, type, q }, eventKey);
  const items = useMemo(() => newestFirst(w.items.filter((e) => matches(e, { type, q }))), [w.items, type, q]);
  const row = (e) => {
    const warn = eventType(e) === 'Warning';
    return html`<div class="cells" data-testid="event-row" data-type=${eventType(e)}>
      <time datetime=${e.time} title=${new Date(e.time).toLocaleString()}>${age(e.time, now)}</time>
      <span class="opt"><${Badge} value=${eventType(e)} /></span>
      <span class=${warn ? 'bad-text' : ''} title=${eventType(e)}>${e.reason}</span>
      <span class="opt"><${ObjectLink} object=${e.object} /></span>
      <span title=${e.message}>${e.message}</span>
      <span class="opt num">${e.count || 1}</span>
    </div>`;
  };
  const open = (e) => { const to = objectHref(e.object); if (to) navigate(to); };
  return html`<div class="listpage events-list">
    <div class="toolbar">
      <h1>Events</h1>
      <${LiveDot} live=${w.live} />
      <span class="muted" aria-live="polite">${items.length} event${items.length === 1 ? '' : 's'}</span>
      <${NamespaceSelect} value=${namespace} />
      <${TypeSelect} value=${type} />
      <${FilterBox} value=${q} placeholder="Filter events" />
      ${object && html`<button type="button" class="chip" aria-label=${'Stop showing only ' + object} onClick=${() => setQuery({ object: '' })}>about ${object} ✕</button>`}
    </div>
    <${ErrorBox} error=${w.error} />
    ${w.ready && !items.length && !w.error
      ? html`<p class="muted">No events${type || q || object || namespace ? ' match these filters' : ''}.</p>` : ''}
    <${VirtualList} items=${items} rowHeight=${32} label="Events" header=${header()} renderRow=${row} onOpen=${open} rowKey=${eventKey} />
  </div>`;
}
