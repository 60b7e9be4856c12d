/**
 * Templates whose every tag is a bare variable path (`Step 2. {{ steps.s1.output }}`), rendered in
 * the calling thread exactly as Liquid renders them (expressions.ts), so a step's prompt does not
 * wait for the template worker (issue 14). Anything else, or any path this reading is not sure of
 * (a missing value, an array, Liquid's `size`/`first`/`last`, a large result), is left to Liquid
 * on the worker: this answers only where the answer cannot differ.
 */
import type { Scope } from './expressions';

/** A dotted path of Liquid identifiers; one `.` before each segment, so it matches in linear time. */
const PATH = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*$/;

/** Names Liquid reads as literals or computes, never as a plain property. */
const NOT_PLAIN = new Set(['nil', 'null', 'true', 'false', 'empty', 'blank', 'size', 'first', 'last']);

/** Rendered text past this length is left to Liquid, whose limits decide what happens to it. */
const MAX_TEXT = 100_000;

/** What a path may lead to here: what JSON holds, arrays only inside an object. */
type Plain = string | number | boolean | null | Record<string, unknown>;

/**
 * The template rendered as `mode` asks ('value': a bare `{{ path }}` gives the value itself; 'text':
 * text), or null when Liquid must render it.
 */
export function renderSimple(
  template: unknown,
  scope: Scope,
  mode: 'value' | 'text',
): { value: unknown } | null {
  if (typeof template !== 'string' || template.length > MAX_TEXT || template.includes('{%')) return null;
  const parts: string[] = [];
  let at = 0;
  let values = 0;
  let only: Plain = null;
  // Counted as it grows: a template naming a large value many times stops at the first that
  // passes the limit, so the work here stays bounded whatever the template says.
  let length = 0;
  while (at < template.length) {
    const open = template.indexOf('{{', at);
    if (open < 0) break;
    const close = template.indexOf('}}', open + 2);
    if (close < 0) return null;
    const inner = template.slice(open + 2, close);
    // Trim marks (`{{-`) eat the whitespace around the tag: Liquid's business.
    if (inner.startsWith('-') || inner.endsWith('-')) return null;
    const value = lookUp(inner.trim(), scope);
    if (value === undefined) return null;
    const text = asText(value);
    length += open - at + text.length;
    if (length > MAX_TEXT) return null;
    parts.push(template.slice(at, open), text);
    only = value;
    values++;
    at = close + 2;
  }
  parts.push(template.slice(at));
  if (values === 0) return null;
  // One tag with only whitespace around it is a bare expression to Liquid (expressions.ts): its
  // value itself, or as text, the whitespace dropped.
  const bare = values === 1 && parts[0]!.trim() === '' && parts[2]!.trim() === '';
  if (bare && mode === 'value') return { value: only };
  const text = bare ? asText(only) : parts.join('');
  return text.length > MAX_TEXT ? null : { value: text };
}

/**
 * The value at a path of own properties of plain objects (Liquid's `ownPropertyOnly`), null
 * included; undefined when the path is not one this module reads.
 */
function lookUp(path: string, scope: Scope): Plain | undefined {
  if (!PATH.test(path)) return undefined;
  let value: unknown = scope;
  for (const key of path.split('.')) {
    if (NOT_PLAIN.has(key) || !isPlainObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // An object is written as JSON by Liquid's output escape; a plain one (of plain values) only.
  return isPlainObject(value) && plainAll(value) ? value : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether JSON.stringify writes the value as it is: plain objects and arrays of finite numbers, strings, booleans, null. */
function plainAll(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(plainAll);
  return isPlainObject(value) && Object.values(value).every(plainAll);
}

/** How Liquid's output escape (expressions.ts) writes a value into text. */
function asText(value: Plain): string {
  if (value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
