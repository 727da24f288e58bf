// The views' helpers (web/ui/views/common-b.js) in a real browser: the
// selector syntax must filter as the server does (Kubernetes' meaning),
// and a pod row must say what kubectl's would. views_test.go runs this
// page and reads the result.
import {
  parseLabelSelector, parseFieldTerms, parsePodFieldSelector, withFieldTerm, fieldTermValue, contains, podKey,
  podSummary, quantity, qosClass, probeText, selectorString, reasonClass,
} from '/ui/views/common-b.js';

const fail = [];
let pass = 0;
const eq = (name, got, want) => {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g === w) pass++; else fail.push(`${name}: got ${g}, want ${w}`);
};
const throws = (name, fn) => {
  try { fn(); fail.push(`${name}: did not throw`); } catch (_) { pass++; }
};

// Label selectors: each case is selector, labels, whether they match.
const labelCases = [
  ['', {}, true],
  ['app=web', { app: 'web' }, true],
  ['app=web', { app: 'db' }, false],
  ['app=web', {}, false],
  ['app==web', { app: 'web' }, true],
  ['app!=web', {}, true], // != matches a missing key, as in Kubernetes
  ['app!=web', { app: 'web' }, false],
  ['app!=web', { app: 'db' }, true],
  ['app in (web, db)', { app: 'db' }, true],
  ['app in (web,db)', { app: 'x' }, false],
  ['app in (web)', {}, false],
  ['app notin (web)', {}, true],
  ['app notin (web)', { app: 'web' }, false],
  ['app', { app: '' }, true],
  ['app', {}, false],
  ['!app', {}, true],
  ['!app', { app: 'x' }, false],
  ['app=web,tier in (fe,be),!canary', { app: 'web', tier: 'be' }, true],
  ['app=web,tier in (fe,be),!canary', { app: 'web', tier: 'be', canary: 'y' }, false],
  ['app=web, tier notin (db)', { app: 'web', tier: 'db' }, false],
  ['app.kubernetes.io/name=shop', { 'app.kubernetes.io/name': 'shop' }, true],
  ['shard>3', { shard: '5' }, true],
  ['shard>3', { shard: '2' }, false],
  ['shard<3', {}, false],
  // Keys of Object.prototype are not labels a pod has.
  ['!toString', {}, true],
  ['constructor', { app: 'x' }, false],
  ['hasOwnProperty!=x', {}, true],
];
for (const [sel, labels, want] of labelCases) eq(`labelSelector ${JSON.stringify(sel)} on ${JSON.stringify(labels)}`, parseLabelSelector(sel)(labels), want);
eq('labelSelector on undefined labels', parseLabelSelector('!app')(undefined), true);
for (const bad of ['a b', '=x', 'app in web', '!app=x', 'app=(x)', 'shard>x']) throws(`labelSelector ${JSON.stringify(bad)}`, () => parseLabelSelector(bad));

// Field selectors on pods.
const pod = { namespace: 'shop', name: 'web-0', node: 'n1', phase: 'Running' };
const fieldCases = [
  ['', true],
  ['status.phase=Running', true],
  ['status.phase==Running', true],
  ['status.phase!=Running', false],
  ['status.phase=Running,spec.nodeName=n1', true],
  ['status.phase=Running,spec.nodeName!=n1', false],
  ['metadata.name=web-0,metadata.namespace=shop', true],
  ['spec.nodeName=', false], // an unscheduled pod's nodeName is empty
];
for (const [sel, want] of fieldCases) eq(`fieldSelector ${JSON.stringify(sel)}`, parsePodFieldSelector(sel)(pod), want);
eq('fieldSelector spec.nodeName= on an unscheduled pod', parsePodFieldSelector('spec.nodeName=')({ ...pod, node: undefined }), true);
throws('fieldSelector of an unknown field', () => parseFieldTerms('spec.schedulerName=x'));
throws('fieldSelector without an operator', () => parseFieldTerms('status.phase'));
eq('withFieldTerm replaces', withFieldTerm('status.phase=Running,spec.nodeName=n1', 'status.phase', 'Pending'), 'spec.nodeName=n1,status.phase=Pending');
eq('withFieldTerm removes', withFieldTerm('status.phase=Running,spec.nodeName=n1', 'status.phase', ''), 'spec.nodeName=n1');
eq('withFieldTerm adds', withFieldTerm('', 'spec.nodeName', 'n2'), 'spec.nodeName=n2');
eq('withFieldTerm over a malformed selector', withFieldTerm('junk', 'status.phase', 'Failed'), 'status.phase=Failed');
eq('fieldTermValue', fieldTermValue('spec.nodeName=n1,status.phase=Pending', 'status.phase'), 'Pending');
eq('fieldTermValue of !=', fieldTermValue('status.phase!=Pending', 'status.phase'), '');
eq('selectorString', selectorString({ tier: 'fe', app: 'web' }), 'app=web,tier=fe');

// q: case-insensitive, any field.
eq('contains', contains('WEB', 'shop/web-0', 'n1'), true);
eq('contains no match', contains('db', 'shop/web-0', undefined), false);
eq('contains empty', contains('', 'x'), true);

// Pods as rows.
eq('podKey', podKey({ namespace: 'shop', name: 'web-0', uid: 'u1' }), 'shop/web-0');
eq('podKey of a terminating incarnation', podKey({ namespace: 'shop', name: 'web-0', uid: 'u1', reason: 'Terminating' }), 'shop/web-0@u1');
const crashing = {
  namespace: 'shop', name: 'web-0', phase: 'Running',
  status: { containers: [
    { name: 'a', ready: true, restartCount: 1, state: { running: {} } },
    { name: 'b', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } },
  ] },
};
eq('podSummary', podSummary(crashing), { ready: 1, total: 2, restarts: 5, reason: 'CrashLoopBackOff', terminating: false });
eq('podSummary is computed once per object', podSummary(crashing) === podSummary(crashing), true);
eq('podSummary of an unscheduled pod', podSummary({ phase: 'Pending', reason: 'Unschedulable', spec: { containers: [{ name: 'a' }] } }),
  { ready: 0, total: 1, restarts: 0, reason: 'Unschedulable', terminating: false });
eq('podSummary of a failed pod', podSummary({ phase: 'Failed', status: { containers: [{ name: 'a', restartCount: 0, state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } }] } }).reason, 'OOMKilled');

eq('reasonClass of a crash loop', reasonClass('CrashLoopBackOff'), 'bad-text');
eq('reasonClass of ErrImagePull', reasonClass('ErrImagePull'), 'bad-text');
eq('reasonClass of ContainerCreating', reasonClass('ContainerCreating'), 'muted');

// Quantities and QoS, as Kubernetes computes them.
eq('quantity 100m', quantity('100m'), 0.1);
eq('quantity 64Mi', quantity('64Mi'), 64 * 1024 * 1024);
eq('quantity 1e3', quantity('1e3'), 1000);
eq('quantity 2G', quantity('2G'), 2e9);
eq('quantity junk', Number.isNaN(quantity('12x')), true);
const res = (requests, limits) => ({ containers: [{ name: 'a', resources: { requests, limits } }] });
eq('qos none', qosClass({ containers: [{ name: 'a' }] }), 'BestEffort');
eq('qos equal', qosClass(res({ cpu: '1', memory: '1Gi' }, { cpu: '1000m', memory: '1024Mi' })), 'Guaranteed');
eq('qos limits only', qosClass(res(undefined, { cpu: '1', memory: '1Gi' })), 'Guaranteed');
eq('qos requests only', qosClass(res({ cpu: '100m' }, undefined)), 'Burstable');
eq('qos memory limit only', qosClass(res(undefined, { memory: '1Gi' })), 'Burstable');
eq('qos below limit', qosClass(res({ cpu: '500m', memory: '1Gi' }, { cpu: '1', memory: '1Gi' })), 'Burstable');

eq('probeText http', probeText({ httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 }),
  'http-get http://:8080/healthz delay=0s timeout=1s period=5s #success=1 #failure=3');
eq('probeText exec', probeText({ exec: { command: ['cat', '/tmp/ok'] }, failureThreshold: 1 }),
  'exec [cat /tmp/ok] delay=0s timeout=1s period=10s #success=1 #failure=1');

document.getElementById('result').textContent = JSON.stringify({ pass, fail });
