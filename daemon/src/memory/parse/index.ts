/**
 * Turns a workspace file into what the index stores: the note's metadata (type, tags, dates) and
 * its chunks with line ranges, or the problem that keeps it out of the index.
 */
import { Frontmatter, type Problem } from '@keel/schemas';
import { parseFrontmatter, splitFrontmatter } from './frontmatter';
import { chunkMarkdown, DEFAULT_LIMITS, type Chunk } from './markdown';
import { chunkYaml } from './yamlFile';

export type FileKind = 'markdown' | 'yaml';

export interface NoteMeta {
  type: string | null;
  title: string | null;
  tags: string[];
  /** YYYY-MM-DD: frontmatter `date`, else `updated`, else `created`; null when none. */
  date: string | null;
  reviewBy: string | null;
}

export interface ParsedFile {
  kind: FileKind;
  meta: NoteMeta;
  frontmatter: Record<string, unknown> | null;
  chunks: Chunk[];
  /** Warnings: the file is indexed anyway. */
  problems: Problem[];
}

export type ParseResult = { ok: true; file: ParsedFile } | { ok: false; problem: Problem };

export function fileKind(path: string): FileKind | null {
  const lower = path.toLowerCase();
  if (lower.endsWith('.md') || lower.endsWith('.markdown')) return 'markdown';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return null;
}

/** Parses `text`, the content of the workspace file at `path` (workspace-relative). */
export function parseFile(path: string, content: string): ParseResult {
  // Windows line endings count as one line break, like everywhere else in the editor.
  const text = content.includes('\r') ? content.replace(/\r\n?/g, '\n') : content;
  const kind = fileKind(path);
  if (kind === 'yaml') return parseYamlFile(path, text);
  return parseMarkdownFile(path, text);
}

function parseMarkdownFile(path: string, text: string): ParseResult {
  const split = splitFrontmatter(text);
  let frontmatter: Frontmatter = {};
  let raw: Record<string, unknown> | null = null;
  const problems: Problem[] = [];
  if (split.yaml !== null) {
    const parsed = parseFrontmatter(split.yaml, split.yamlStartLine, path);
    if (!parsed.ok) return { ok: false, problem: parsed.error };
    frontmatter = parsed.data;
    raw = parsed.raw;
    problems.push(...parsed.warnings);
  }
  const chunks = chunkMarkdown(split.body, split.bodyStartLine, DEFAULT_LIMITS);
  return {
    ok: true,
    file: { kind: 'markdown', meta: metaOf(frontmatter), frontmatter: raw, chunks, problems },
  };
}

function parseYamlFile(path: string, text: string): ParseResult {
  const parsed = chunkYaml(text, path, DEFAULT_LIMITS);
  if (!parsed.ok) return { ok: false, problem: parsed.error };
  const top =
    parsed.value && typeof parsed.value === 'object' && !Array.isArray(parsed.value)
      ? (parsed.value as Record<string, unknown>)
      : {};
  const lenient = Frontmatter.safeParse({ type: top.type, tags: top.tags });
  const meta = metaOf(lenient.success ? lenient.data : {});
  return { ok: true, file: { kind: 'yaml', meta, frontmatter: null, chunks: parsed.chunks, problems: [] } };
}

function metaOf(frontmatter: Frontmatter): NoteMeta {
  return {
    type: frontmatter.type ?? null,
    title: frontmatter.title ?? null,
    tags: frontmatter.tags ?? [],
    date: frontmatter.date ?? frontmatter.updated ?? frontmatter.created ?? null,
    reviewBy: frontmatter['review-by'] ?? null,
  };
}
