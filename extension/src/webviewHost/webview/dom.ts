/** The DOM helpers every Keel webview script builds its page with. */

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A button whose label says more than its text, for a screen reader. */
export function button(text: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = element('button', 'action', text);
  b.type = 'button';
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}
