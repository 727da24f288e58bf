// The UI's shell: sign-in, navigation, theme, keyboard shortcuts, and the
// route table that picks a view (views/*.js) from the path after /ui/.
import {
  html, render, useState, useEffect, api, ApiError, token, setToken, clearToken, takeTokenFromURL,
  onUnauthorized, useRoute, navigate, Link, href, BASE,
} from './lib.js';
import Apps from './views/apps.js';
import Workloads from './views/workloads.js';
import Pods from './views/pods.js';
import Nodes from './views/nodes.js';
import Events from './views/events.js';

// The top-level pages, in the navigation's order; key is the shortcut
// after "g".
const PAGES = [
  { seg: 'apps', title: 'Applications', key: 'a', view: Apps },
  { seg: 'workloads', title: 'Workloads', key: 'w', view: Workloads },
  { seg: 'pods', title: 'Pods', key: 'p', view: Pods },
  { seg: 'nodes', title: 'Nodes', key: 'n', view: Nodes },
  { seg: 'events', title: 'Events', key: 'e', view: Events },
];

// ---- theme ---------------------------------------------------------------

const THEME_KEY = 'stevedore.theme';
function applyTheme(t) {
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem(THEME_KEY));

function ThemeToggle() {
  const [t, setT] = useState(localStorage.getItem(THEME_KEY) || 'auto');
  const next = { auto: 'light', light: 'dark', dark: 'auto' }[t];
  const click = () => {
    setT(next);
    if (next === 'auto') localStorage.removeItem(THEME_KEY); else localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
  };
  return html`<button type="button" class="ghost" aria-label=${'Theme: ' + t + ' (switch to ' + next + ')'} title="Theme" onClick=${click}>${{ auto: '◐', light: '☀', dark: '☾' }[t]}</button>`;
}

// ---- sign-in -------------------------------------------------------------

function SignIn({ error, onDone }) {
  const [val, setVal] = useState('');
  const [remember, setRemember] = useState(false);
  const submit = (e) => {
    e.preventDefault();
    setToken(val.trim(), remember);
    onDone();
  };
  return html`<main class="signin">
    <h1>Stevedore</h1>
    <form onSubmit=${submit} aria-label="Sign in">
      <p>Sign in with a token: <code>ctl create token USER</code> mints one, and <code>make run</code> prints a link that signs in.
        A browser holding a client certificate of the cluster is signed in already.</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <label for="token">Token</label>
      <input id="token" type="password" autocomplete="off" value=${val} onInput=${(e) => setVal(e.currentTarget.value)} required />
      <label class="check"><input type="checkbox" checked=${remember} onChange=${(e) => setRemember(e.currentTarget.checked)} /> Remember on this browser</label>
      <button type="submit" class="primary">Sign in</button>
    </form>
  </main>`;
}

// ---- shell ---------------------------------------------------------------

function Help({ onClose }) {
  return html`<div class="help" role="dialog" aria-label="Keyboard shortcuts">
    <h2>Keyboard</h2>
    <dl class="kv">
      ${PAGES.map((p) => html`<dt><kbd>g</kbd> <kbd>${p.key}</kbd></dt><dd>${p.title}</dd>`)}
      <dt><kbd>/</kbd></dt><dd>Focus the filter</dd>
      <dt><kbd>↑</kbd> <kbd>↓</kbd> or <kbd>j</kbd> <kbd>k</kbd></dt><dd>Move in a list</dd>
      <dt><kbd>Enter</kbd></dt><dd>Open the selected row</dd>
      <dt><kbd>?</kbd></dt><dd>This help</dd>
    </dl>
    <button type="button" onClick=${onClose}>Close</button>
  </div>`;
}

function useShortcuts(setHelp) {
  useEffect(() => {
    let g = false;
    const onKey = (e) => {
      const tag = (e.target.tagName || '').toLowerCase();
      if (tag === 'input' || tag === 'textarea' || tag === 'select' || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === '?') { setHelp((h) => !h); return; }
      if (e.key === 'Escape') { setHelp(false); return; }
      if (e.key === '/') {
        const f = document.querySelector('[data-filter]');
        if (f) { e.preventDefault(); f.focus(); }
        return;
      }
      if (g) {
        g = false;
        const p = PAGES.find((x) => x.key === e.key);
        if (p) { e.preventDefault(); navigate(href([p.seg])); }
        return;
      }
      if (e.key === 'g') g = true;
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
}

function Shell({ me, onSignOut }) {
  const route = useRoute();
  const [help, setHelp] = useState(false);
  useShortcuts(setHelp);
  const seg = route.segs[0] || 'apps';
  const page = PAGES.find((p) => p.seg === seg);
  useEffect(() => {
    if (!route.segs.length) navigate(href(['apps']), true);
  }, [route.path]);
  useEffect(() => {
    document.title = (page ? page.title + ' · ' : '') + 'Stevedore';
    const main = document.getElementById('main');
    if (main) main.focus({ preventScroll: true });
  }, [route.path]);
  const View = page && page.view;
  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <${Link} to=${href(['apps'])} class="brand" aria-label="Stevedore home">⚓ Stevedore<//>
      <nav aria-label="Main">
        ${PAGES.map((p) => html`<${Link} to=${href([p.seg])} aria-current=${p.seg === seg ? 'page' : undefined}>${p.title}<//>`)}
      </nav>
      <div class="me">
        <${ThemeToggle} />
        <button type="button" class="ghost" aria-label="Keyboard shortcuts" onClick=${() => setHelp((h) => !h)}>?</button>
        <span class="user" title=${(me.groups || []).join(', ')}>${me.user}</span>
        ${token() && html`<button type="button" class="ghost" onClick=${onSignOut}>Sign out</button>`}
      </div>
    </header>
    ${help && html`<${Help} onClose=${() => setHelp(false)} />`}
    <main id="main" tabindex="-1">
      ${View ? html`<${View} route=${route} />` : html`<p>No such page: <code>${route.path}</code>. <${Link} to=${href(['apps'])}>Applications<//></p>`}
    </main>
  </div>`;
}

function App() {
  const [me, setMe] = useState(null);
  const [err, setErr] = useState('');
  const [needSignIn, setNeedSignIn] = useState(false);
  const [bootErr, setBootErr] = useState('');
  const check = (delay = 500) => {
    api('/v1/whoami')
      .then((w) => { setMe(w); setNeedSignIn(false); setErr(''); })
      .catch((e) => {
        if (!(e instanceof ApiError)) {
          // The reconciler is out of reach (restarting, a failover, the
          // network): ask again, more slowly, rather than sign out.
          setBootErr('Cannot reach the reconciler (' + e.message + '); trying again…');
          setTimeout(() => check(Math.min(delay * 2, 5000)), delay);
          return;
        }
        setBootErr('');
        setMe(null);
        setNeedSignIn(true);
        if (e.status === 401) setErr(token() ? 'That token was refused: ' + e.message : '');
        else setErr(e.message);
      });
  };
  useEffect(() => {
    onUnauthorized(() => { setMe(null); setNeedSignIn(true); setErr('Signed out: the token was refused or expired.'); });
    check();
  }, []);
  if (needSignIn) return html`<${SignIn} error=${err} onDone=${() => check()} />`;
  if (!me) return html`<p class="boot" role="status">${bootErr || 'Loading Stevedore…'}</p>`;
  return html`<${Shell} me=${me} onSignOut=${() => { clearToken(); setMe(null); setNeedSignIn(true); setErr(''); }} />`;
}

takeTokenFromURL();
if (!location.pathname.startsWith(BASE)) history.replaceState(null, '', BASE + '/');
render(html`<${App} />`, document.getElementById('app'));
