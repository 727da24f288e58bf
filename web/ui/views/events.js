// The events pages (placeholder until its view lands).
import { html } from '../lib.js';

export default function Page({ route }) {
  return html`<h1>events</h1><p>Not built yet: <code>${route.path}</code></p>`;
}
