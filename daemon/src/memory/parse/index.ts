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

/**
 * Bounds that keep one file from costing the index more than a moment (parsing runs in a worker,
 * but a worker busy for minutes on one note delays every other note).
 */
export const PARSE_LIMITS = {
  /** Larger files are not read at all. */
  maxFileBytes: 8 * 1024 * 1024,
  /** YAML files (runbooks, data) and frontmatter are parsed whole: smaller bounds. */
  maxYamlChars: 512 * 1024,
  maxFrontmatterChars: 64 * 1024,
  /** Chunks kept per file; the rest of a longer file is left out (with a warning). */
  maxChunks: 2_000,
};

/**
 * `content` with its line breaks as the parser reads them: a Windows line ending (or a lone
 * carriage return) is one line break, like everywhere else in the editor.
 */
export function lineBreaksAsParsed(content: string): string {
  return content.includes('\r') ? content.replace(/\r\n?/g, '\n') : content;
}

/** Parses `text`, the content of the workspace file at `path` (workspace-relative). */
export function parseFile(path: string, content: string): ParseResult {
  const text = lineBreaksAsParsed(content);
  const kind = fileKind(path);
  let result: ParseResult;
  try {
    result = kind === 'yaml' ? parseYamlFile(path, text) : parseMarkdownFile(path, text);
  } catch (error) {
    // Whatever a parser throws on one file is that file's problem, never the index's.
    const message = error instanceof Error ? error.message : String(error);
    return rejectedFile(path, 1, `Could not be read as a note (${message}). The file is not indexed.`);
  }
  return result.ok ? capChunks(path, result) : result;
}

/** The problem for a file that is not indexed. */
export function rejectedFile(path: string, line: number, message: string): ParseResult {
  return { ok: false, problem: { path, line, column: 1, severity: 'error', message } };
}

export function tooLarge(path: string, bytes: number, limit: number): ParseResult {
  const mb = (n: number): string => `${(n / (1024 * 1024)).toFixed(1)} MB`;
  return rejectedFile(
    path,
    1,
    `The file is ${mb(bytes)}, over Keel's limit of ${mb(limit)} for one file: it is not indexed. Split it into smaller notes.`,
  );
}

function capChunks(path: string, result: ParseResult & { ok: true }): ParseResult {
  const { chunks } = result.file;
  if (chunks.length <= PARSE_LIMITS.maxChunks) return result;
  const firstLeftOut = chunks[PARSE_LIMITS.maxChunks]!;
  const warning: Problem = {
    path,
    line: firstLeftOut.startLine,
    column: 1,
    severity: 'warning',
    message: `Only the first ${PARSE_LIMITS.maxChunks} chunks are indexed; from this line on the file is not searchable. Split it into smaller notes.`,
  };
  return {
    ok: true,
    file: {
      ...result.file,
      chunks: chunks.slice(0, PARSE_LIMITS.maxChunks),
      problems: [...result.file.problems, warning],
    },
  };
}

function parseMarkdownFile(path: string, text: string): ParseResult {
  const split = splitFrontmatter(text);
  let frontmatter: Frontmatter = {};
  let raw: Record<string, unknown> | null = null;
  const problems: Problem[] = [];
  if (split.yaml !== null) {
    if (split.yaml.length > PARSE_LIMITS.maxFrontmatterChars) {
      return rejectedFile(
        path,
        split.yamlStartLine,
        `Frontmatter is longer than ${PARSE_LIMITS.maxFrontmatterChars / 1024} KB. The note is not indexed until it is shortened.`,
      );
    }
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
  if (text.length > PARSE_LIMITS.maxYamlChars) return tooLarge(path, text.length, PARSE_LIMITS.maxYamlChars);
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
