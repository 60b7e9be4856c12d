/**
 * Parses a YAML file against a zod schema and turns everything wrong with it (YAML syntax, schema
 * violations) into problems with exact 1-based line and column ranges, ready to be editor
 * diagnostics or CLI messages.
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { Problem } from '@keel/schemas';

export type YamlParseResult<T> =
  { ok: true; value: T; problems: Problem[] } | { ok: false; problems: Problem[] };

export function parseYamlWithSchema<S extends z.ZodType>(
  text: string,
  schema: S,
  path: string,
): YamlParseResult<z.output<S>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; column: number } => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  const problem = (range: [number, number], message: string): Problem => {
    const start = at(range[0]);
    const end = at(Math.max(range[0], range[1]));
    return { path, severity: 'error', message, ...start, endLine: end.line, endColumn: end.column };
  };

  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => problem(error.pos, `YAML syntax: ${firstLine(error.message)}`)),
    };
  }
  if (text.length > MAX_YAML_CHARS) {
    return {
      ok: false,
      problems: [
        problem(
          [0, 0],
          `The file is longer than ${MAX_YAML_CHARS / 1024} KB, Keel's limit for one YAML file. Split it.`,
        ),
      ],
    };
  }
  const value = yamlValue(doc);
  if (!value.ok) return { ok: false, problems: [problem([value.offset, value.offset], value.message)] };
  const result = schema.safeParse(value.value ?? {});
  if (result.success) return { ok: true, value: result.data, problems: [] };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const { range, label } = locate(doc, issue);
      return problem(range, label ? `${label}: ${issue.message}` : issue.message);
    }),
  };
}

/** Keel's own YAML files (keel.yaml, runbooks, tests) are small; a larger one is refused unread. */
export const MAX_YAML_CHARS = 512 * 1024;
/**
 * Aliases a document may expand. A few `*anchor` references are normal; thousands that refer to
 * each other are a "billion laughs" that would take the daemon's memory and time.
 */
const MAX_ALIAS_COUNT = 100;

export type YamlValue = { ok: true; value: unknown } | { ok: false; offset: number; message: string };

/**
 * A parsed document's value, or, when its aliases expand past the limit, where the first alias is
 * and what to do about it. Never throws for the file's content.
 */
export function yamlValue(doc: Document): YamlValue {
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown };
  } catch (error) {
    let offset = 0;
    visit(doc, {
      Alias(_, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const reason = error instanceof Error ? firstLine(error.message) : String(error);
    return {
      ok: false,
      offset,
      message: `YAML aliases expand too far (${reason}); the file is not read. Write the values out instead of nesting *aliases.`,
    };
  }
}

/** The source range a zod issue is about, and the dotted key path to name in the message. */
function locate(doc: Document, issue: z.core.$ZodIssue): { range: [number, number]; label: string } {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  // The deepest node on the issue's path that exists in the file.
  let depth = path.length;
  let node = nodeAt(doc, path);
  while (!node && depth > 0) {
    depth--;
    node = nodeAt(doc, path.slice(0, depth));
  }
  if (issue.code === 'unrecognized_keys' && isMap(node)) {
    const key = node.items.find(
      (pair) => isPair(pair) && isScalar(pair.key) && issue.keys.includes(String(pair.key.value)),
    );
    const keyNode = key?.key as Node | undefined;
    if (keyNode?.range) return { range: [keyNode.range[0], keyNode.range[1]], label: path.join('.') };
  }
  const range = node?.range ?? doc.contents?.range ?? [0, 0, 0];
  return { range: [range[0], range[1]], label: path.join('.') };
}

function nodeAt(doc: Document, path: (string | number)[]): Node | undefined {
  if (path.length === 0) return doc.contents ?? undefined;
  const found = doc.getIn(path, true);
  return found && typeof found === 'object' && 'range' in found ? (found as Node) : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/**
 * A problem found after parsing (a template that does not compile, a step that refers to a later
 * one), placed on the YAML node at `path`, or as close to it as the file allows.
 */
export function problemAt(text: string, path: (string | number)[], message: string, file: string): Problem {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  let depth = path.length;
  let node = nodeAt(doc, path);
  while (!node && depth > 0) {
    depth--;
    node = nodeAt(doc, path.slice(0, depth));
  }
  const range = node?.range ?? [0, 0, 0];
  const start = lineCounter.linePos(range[0]);
  const end = lineCounter.linePos(Math.max(range[0], range[1]));
  return {
    path: file,
    severity: 'error',
    message: `${path.join('.')}: ${message}`,
    line: start.line,
    column: start.col,
    endLine: end.line,
    endColumn: end.col,
  };
}
