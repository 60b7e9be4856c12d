/**
 * A JSON value as a collapsible tree: objects and arrays are <details> (open to two levels, so a
 * large output starts readable), scalars are pretty-printed. Text only, never HTML from the value.
 */
import { element } from '../../webviewHost/webview/dom';

const OPEN_DEPTH = 2;

export function jsonTree(value: unknown, depth = 0): HTMLElement {
  if (value === null || typeof value !== 'object') {
    const scalar = element('code', `json-${value === null ? 'null' : typeof value}`);
    scalar.textContent = typeof value === 'string' && value.includes('\n') ? value : JSON.stringify(value);
    if (typeof value === 'string' && value.includes('\n')) {
      const pre = element('pre', 'json-text');
      pre.append(scalar);
      return pre;
    }
    return scalar;
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((item, index) => [String(index), item])
    : Object.entries(value);
  if (entries.length === 0) return element('code', 'json-empty', Array.isArray(value) ? '[]' : '{}');
  const details = element('details', 'json');
  details.open = depth < OPEN_DEPTH;
  const count = Array.isArray(value) ? `${entries.length} item(s)` : `${entries.length} key(s)`;
  details.append(element('summary', 'json-summary', Array.isArray(value) ? `[ ${count} ]` : `{ ${count} }`));
  const list = element('ul', 'json-entries');
  for (const [key, item] of entries) {
    const row = element('li');
    row.append(element('span', 'json-key', `${key}: `), jsonTree(item, depth + 1));
    list.append(row);
  }
  details.append(list);
  return details;
}
