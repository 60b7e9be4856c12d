/** Chunking of YAML files (runbooks, configs): one chunk per top-level key, small ones packed. */
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { Problem } from '@keel/schemas';
import { yamlValue } from '../../files/yamlProblems';
import { cutLine, type Chunk, type ChunkLimits } from './markdown';

export type YamlChunks = { ok: true; value: unknown; chunks: Chunk[] } | { ok: false; error: Problem };

export function chunkYaml(text: string, path: string, limits: ChunkLimits): YamlChunks {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineOf = (offset: number): number => lineCounter.linePos(offset).line;
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = lineCounter.linePos(syntax.pos[0]);
    return {
      ok: false,
      error: {
        path,
        line: pos.line,
        column: pos.col,
        severity: 'error',
        message: `Not valid YAML: ${syntax.message.split('\n')[0]}. The file is not indexed until this is fixed.`,
      },
    };
  }
  const read = yamlValue(doc);
  if (!read.ok) {
    const pos = lineCounter.linePos(read.offset);
    return {
      ok: false,
      error: { path, line: pos.line, column: pos.col, severity: 'error', message: read.message },
    };
  }
  const lines = text.split('\n');
  const slice = (start: number, end: number): string =>
    lines
      .slice(start - 1, end)
      .join('\n')
      .trim();
  const chunks: Chunk[] = [];
  const root = doc.contents;
  if (isMap(root) && root.items.length > 0) {
    let current = null as Chunk | null;
    for (const pair of root.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const keyRange = (pair.key as { range?: [number, number, number] } | null)?.range;
      const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range;
      if (!keyRange) continue;
      const startLine = lineOf(keyRange[0]);
      const endLine = Math.max(
        startLine,
        lineOf(Math.max(keyRange[0], (valueRange?.[1] ?? keyRange[1]) - 1)),
      );
      const candidate = slice(current?.startLine ?? startLine, endLine);
      if (current && candidate.length <= limits.maxChars) {
        current = { ...current, endLine, text: candidate, heading: `${current.heading}, ${key}` };
      } else {
        if (current) chunks.push(current);
        current = { startLine, endLine, heading: key, text: slice(startLine, endLine) };
      }
    }
    if (current) chunks.push(current);
  } else if (text.trim().length > 0) {
    chunks.push({ startLine: 1, endLine: lines.length, heading: '', text: text.trim() });
  }
  return {
    ok: true,
    value: read.value,
    chunks: chunks.flatMap((c) => cap(c, limits)),
  };
}

/** Splits a chunk longer than hardMaxChars at line boundaries. */
function cap(chunk: Chunk, limits: ChunkLimits): Chunk[] {
  if (chunk.text.length <= limits.hardMaxChars) return [chunk];
  const lines = chunk.text.split('\n');
  const out: Chunk[] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i <= lines.length; i++) {
    const length = i < lines.length ? (lines[i]?.length ?? 0) + 1 : Infinity;
    if (i < lines.length && length > limits.hardMaxChars) {
      const text = lines.slice(start, i).join('\n').trim();
      if (text)
        out.push({ ...chunk, startLine: chunk.startLine + start, endLine: chunk.startLine + i - 1, text });
      out.push(...cutLine(lines[i]!, chunk.startLine + i, chunk.heading, limits.hardMaxChars));
      start = i + 1;
      size = 0;
      continue;
    }
    if (i === lines.length || (size > 0 && size + length > limits.hardMaxChars)) {
      const text = lines.slice(start, i).join('\n').trim();
      if (text)
        out.push({ ...chunk, startLine: chunk.startLine + start, endLine: chunk.startLine + i - 1, text });
      start = i;
      size = 0;
    }
    size += length;
  }
  return out;
}
