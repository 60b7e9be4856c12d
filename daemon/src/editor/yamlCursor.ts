/**
 * Where a position is in a YAML document, as a path of keys and indexes: what completion and hover
 * need. Half-typed text (`  bud` under a list item) parses badly, so the cursor's line is replaced
 * by a placeholder entry at the same indentation and the placeholder is found in the parsed tree.
 */
import {
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';

export type YamlPath = (string | number)[];

/** Offsets in the original text, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

interface ContextBase {
  /** Path of the map the cursor's entry belongs to. */
  mapPath: YamlPath;
  /** The whole document as plain values, without the entry at the cursor. */
  document: unknown;
  /** The word at the cursor, which a completion replaces. */
  word: Span;
}

/** The cursor is where a key goes. */
export interface KeyContext extends ContextBase {
  kind: 'key';
  /** The line starts a list item (`- ...`): the item may be a plain value rather than a map. */
  startsItem: boolean;
  /** A `:` already follows the word on this line. */
  colonFollows: boolean;
}

/** The cursor is in the value of `key`, on the key's line. */
export interface ValueContext extends ContextBase {
  kind: 'value';
  key: string;
}

export type CursorContext = KeyContext | ValueContext;

const PLACEHOLDER = '__keel_cursor__';
const WORD_CHAR = /[A-Za-z0-9_.@$/-]/;

/** What the cursor at `offset` is on, or null in a comment or where nothing can be said. */
export function cursorContext(text: string, offset: number): CursorContext | null {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let lineEnd = text.indexOf('\n', offset);
  if (lineEnd < 0) lineEnd = text.length;
  const line = text.slice(lineStart, lineEnd).replace(/\r$/, '');
  const column = offset - lineStart;
  const head = /^\s*(?:-\s+)*/.exec(line)?.[0] ?? '';
  const before = line.slice(head.length, Math.max(column, head.length));
  if (before.startsWith('#') || / #/.test(before)) return null;

  const separator = keySeparator(line.slice(head.length));
  const inValue = separator >= 0 && head.length + separator < column;
  const key = inValue ? line.slice(head.length, head.length + separator).trim() : '';
  const replacement = inValue ? `${head}${key}: ${PLACEHOLDER}` : `${head}${PLACEHOLDER}:`;
  const patched = text.slice(0, lineStart) + replacement + text.slice(lineStart + line.length);
  const found = findPlaceholder(parseDocument(patched, { uniqueKeys: false }));
  if (!found) return null;

  const word = wordAt(text, offset, lineStart, lineStart + line.length);
  if (!inValue) word.start = Math.max(word.start, lineStart + head.length);
  const base = { mapPath: found.path, document: found.document, word };
  if (inValue) return { kind: 'value', key, ...base };
  const after = line.slice(word.end - lineStart);
  return { kind: 'key', startsItem: head.includes('-'), colonFollows: /^\s*:/.test(after), ...base };
}

/** The key at `offset` in the text as it is: its full path, for hovers. */
export function keyAt(
  text: string,
  offset: number,
): { path: YamlPath; document: unknown; span: Span } | null {
  const doc = parseDocument(text, { uniqueKeys: false });
  const found = findKey(doc.contents, [], offset);
  return found ? { ...found, document: plainValue(doc) } : null;
}

/** The value at `path` in plain data, or undefined. */
export function valueAt(value: unknown, path: YamlPath): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** Index of the `:` that ends a key on this line (followed by a space or the line's end), or -1. */
function keySeparator(rest: string): number {
  const quoted = /^(["'])(?:(?!\1).)*\1\s*:(?:\s|$)/.exec(rest);
  if (quoted) return quoted[0].lastIndexOf(':');
  const match = /^[^#]*?:(?:\s|$)/.exec(rest);
  return match ? match[0].lastIndexOf(':') : -1;
}

function wordAt(text: string, offset: number, lineStart: number, lineEnd: number): Span {
  let start = offset;
  while (start > lineStart && WORD_CHAR.test(text.charAt(start - 1))) start--;
  let end = offset;
  while (end < lineEnd && WORD_CHAR.test(text.charAt(end))) end++;
  return { start, end };
}

interface Found {
  path: YamlPath;
  document: unknown;
}

function findPlaceholder(doc: Document): Found | null {
  const hit = searchPlaceholder(doc.contents, []);
  if (!hit) return null;
  // The entry at the cursor is not part of the document the user means: drop it before reading.
  hit.map.items.splice(hit.index, 1);
  return { path: hit.path, document: plainValue(doc) };
}

function searchPlaceholder(
  node: unknown,
  path: YamlPath,
): { map: YAMLMap; index: number; path: YamlPath } | null {
  if (isMap(node)) {
    for (const [index, pair] of node.items.entries()) {
      const key = keyName(pair);
      const value = pair.value;
      if (key === PLACEHOLDER || (isScalar(value) && value.value === PLACEHOLDER)) {
        return { map: node, index, path };
      }
      const inner = key === null ? null : searchPlaceholder(value, [...path, key]);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      const inner = searchPlaceholder(item, [...path, index]);
      if (inner) return inner;
    }
  }
  return null;
}

function findKey(node: unknown, path: YamlPath, offset: number): { path: YamlPath; span: Span } | null {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = keyName(pair);
      if (key === null) continue;
      const range = (pair.key as Node).range;
      if (range && range[0] <= offset && offset <= range[1]) {
        return { path: [...path, key], span: { start: range[0], end: range[1] } };
      }
      const inner = findKey(pair.value, [...path, key], offset);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      const inner = findKey(item, [...path, index], offset);
      if (inner) return inner;
    }
  }
  return null;
}

function keyName(pair: Pair): string | null {
  const value = isScalar(pair.key) ? pair.key.value : null;
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : null;
}

function plainValue(doc: Document): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch {
    // A document too broken to read as data still has a path; only sibling values are lost.
    return null;
  }
}
