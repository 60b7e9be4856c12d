/**
 * YAML frontmatter at the top of a Markdown note (`---` ... `---`): split from the body with its
 * line offset kept, parsed, and checked against the frontmatter Keel understands.
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { Frontmatter, type Problem } from '@keel/schemas';
import { yamlValue } from '../../files/yamlProblems';

export interface SplitNote {
  /** The frontmatter's YAML text, or null when the note has none. */
  yaml: string | null;
  /** 1-based line of the first YAML line. */
  yamlStartLine: number;
  body: string;
  /** 1-based line where the body starts. */
  bodyStartLine: number;
}

const FENCE = /^---[ \t]*$/;

export function splitFrontmatter(text: string): SplitNote {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = source.split('\n');
  if (!FENCE.test((lines[0] ?? '').replace(/\r$/, ''))) {
    return { yaml: null, yamlStartLine: 1, body: source, bodyStartLine: 1 };
  }
  for (let i = 1; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (FENCE.test(line) || line === '...') {
      return {
        yaml: lines.slice(1, i).join('\n'),
        yamlStartLine: 2,
        body: lines.slice(i + 1).join('\n'),
        bodyStartLine: i + 2,
      };
    }
  }
  // An opening fence without a closing one is not frontmatter: treat the whole file as body.
  return { yaml: null, yamlStartLine: 1, body: source, bodyStartLine: 1 };
}

export type FrontmatterResult =
  | { ok: true; data: Frontmatter; raw: Record<string, unknown>; warnings: Problem[] }
  | { ok: false; error: Problem };

/**
 * Parses frontmatter YAML. A syntax error fails the note (it is reported and skipped); a value of
 * the wrong kind (`review-by: soon`) is a warning, and that one key is ignored.
 */
export function parseFrontmatter(yaml: string, startLine: number, path: string): FrontmatterResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yaml, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): { line: number; column: number } => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line + startLine - 1, column: pos.col };
  };
  const syntax = doc.errors[0];
  if (syntax) {
    return {
      ok: false,
      error: {
        path,
        ...at(syntax.pos[0]),
        severity: 'error',
        message: `Frontmatter is not valid YAML: ${syntax.message.split('\n')[0]}. The note is not indexed until this is fixed.`,
      },
    };
  }
  const read = yamlValue(doc);
  if (!read.ok) {
    return {
      ok: false,
      error: { path, ...at(read.offset), severity: 'error', message: `Frontmatter: ${read.message}` },
    };
  }
  const value = read.value;
  if (value === null || value === undefined) return { ok: true, data: {}, raw: {}, warnings: [] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return {
      ok: false,
      error: {
        path,
        line: startLine,
        column: 1,
        severity: 'error',
        message:
          'Frontmatter must be a set of "key: value" lines. The note is not indexed until this is fixed.',
      },
    };
  }
  const raw = value as Record<string, unknown>;
  const parsed = Frontmatter.safeParse(raw);
  if (parsed.success) return { ok: true, data: parsed.data, raw, warnings: [] };
  // Drop each offending key and say where it is.
  const cleaned = { ...raw };
  const warnings: Problem[] = [];
  for (const issue of parsed.error.issues) {
    const key = issue.path[0];
    if (typeof key !== 'string') continue;
    delete cleaned[key];
    const node = doc.getIn([key], true) as { range?: [number, number, number] } | undefined;
    const range = node?.range ?? [0, 0, 0];
    const start = at(range[0]);
    const end = at(range[1]);
    warnings.push({
      path,
      ...start,
      endLine: end.line,
      endColumn: end.column,
      severity: 'warning',
      message: `Frontmatter "${key}": ${issue.message}. Ignored until fixed.`,
    });
  }
  const retry = Frontmatter.safeParse(cleaned);
  return { ok: true, data: retry.success ? retry.data : {}, raw, warnings };
}

export type { z };
