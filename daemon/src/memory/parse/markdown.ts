/**
 * Heading-aware chunking of Markdown: sections follow headings (never a `#` inside a code block),
 * and each section's blocks are packed into chunks of bounded size with their exact line ranges.
 */
import type MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';

export interface Chunk {
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /** Heading path: `Acme > Renewal`. */
  heading: string;
  text: string;
}

export interface ChunkLimits {
  /** A chunk grows block by block up to this many characters. */
  maxChars: number;
  /** A single block longer than maxChars is cut at line boundaries into pieces this long. */
  hardMaxChars: number;
}

export const DEFAULT_LIMITS: ChunkLimits = { maxChars: 1_200, hardMaxChars: 2_000 };

/** Between the titles of a chunk's heading path: `Acme > Renewal`. */
export const HEADING_JOIN = ' > ';

let parser: MarkdownIt | undefined;

/**
 * The parser, made at first use: loading markdown-it (its HTML entity tables, linkify) costs a
 * `keel` command 20-60 ms at start-up, where most commands never parse a note (issue 14).
 */
function markdown(): MarkdownIt {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- bundled, loaded late (issue 14)
  parser ??= new (require('markdown-it') as typeof MarkdownIt)('commonmark');
  return parser;
}

export interface Block {
  /** 0-based line range in the body, end exclusive. */
  start: number;
  end: number;
  heading?: { level: number; title: string };
}

/** Chunks a Markdown body whose first line is line `firstLine` (1-based) of the file. */
export function chunkMarkdown(
  body: string,
  firstLine: number,
  limits: ChunkLimits = DEFAULT_LIMITS,
): Chunk[] {
  const lines = body.split('\n');
  const blocks = topLevelBlocks(body);
  const chunks: Chunk[] = [];
  const headings: string[] = [];
  let current: { start: number; end: number; heading: string; hasContent: boolean } | null = null;

  const flush = (): void => {
    if (!current) return;
    // A heading followed directly by a subheading carries no text of its own: its title lives on
    // in the heading path of the chunks below it.
    if (current.hasContent) {
      chunks.push(...splitOversized(lines, current.start, current.end, current.heading, firstLine, limits));
    }
    current = null;
  };

  for (const block of blocks) {
    if (block.heading) {
      flush();
      headings.length = Math.min(headings.length, block.heading.level - 1);
      while (headings.length < block.heading.level - 1) headings.push('');
      headings.push(block.heading.title);
      current = { start: block.start, end: block.end, heading: headingPath(headings), hasContent: false };
      continue;
    }
    const size = current ? charCount(lines, current.start, block.end) : 0;
    if (current?.hasContent && size > limits.maxChars) {
      const heading: string = current.heading;
      flush();
      current = { start: block.start, end: block.end, heading, hasContent: true };
    } else if (current) {
      current.end = block.end;
      current.hasContent = true;
    } else {
      current = { start: block.start, end: block.end, heading: headingPath(headings), hasContent: true };
    }
  }
  flush();
  return chunks;
}

/** The body's top-level blocks, headings with their level and title. */
export function topLevelBlocks(body: string): Block[] {
  const blocks: Block[] = [];
  const tokens = blockTokens(body);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.level !== 0 || !token.map || token.nesting === -1) continue;
    const [start, end] = token.map;
    if (token.type === 'heading_open') {
      const title = tokens[i + 1]?.content.trim() ?? '';
      blocks.push({ start, end, heading: { level: Number(token.tag.slice(1)), title } });
    } else {
      blocks.push({ start, end });
    }
  }
  return blocks;
}

/**
 * markdown-it's block stage alone: the same top-level blocks, line maps and heading text as a full
 * parse, without the inline stage (emphasis, links, entities), whose output the chunker never
 * reads and which took most of the parse. The input is normalised as markdown-it's own first core
 * rule does.
 */
function blockTokens(body: string): Token[] {
  const src = body.replace(/\r\n?/g, '\n').replace(/\0/g, '\uFFFD');
  const tokens: Token[] = [];
  const md = markdown();
  md.block.parse(src, md, {}, tokens);
  return tokens;
}

/** Cuts a range longer than hardMaxChars at line boundaries. */
function splitOversized(
  lines: string[],
  start: number,
  end: number,
  heading: string,
  firstLine: number,
  limits: ChunkLimits,
): Chunk[] {
  const out: Chunk[] = [];
  let pieceStart = start;
  let size = 0;
  const emit = (pieceEnd: number): void => {
    const text = lines.slice(pieceStart, pieceEnd).join('\n').trim();
    if (text.length > 0) {
      const [first, last] = trimmedRange(lines, pieceStart, pieceEnd);
      out.push({ startLine: first + firstLine, endLine: last + firstLine, heading, text });
    }
    pieceStart = pieceEnd;
    size = 0;
  };
  for (let i = start; i < end; i++) {
    const length = (lines[i]?.length ?? 0) + 1;
    if (size > 0 && size + length > limits.hardMaxChars) emit(i);
    if (length > limits.hardMaxChars) {
      // One line longer than a chunk (a minified blob, a pasted log): cut it into pieces.
      out.push(...cutLine(lines[i]!, i + firstLine, heading, limits.hardMaxChars));
      pieceStart = i + 1;
      continue;
    }
    size += length;
  }
  emit(end);
  return out;
}

/** Pieces of one long line, each at most `max` characters, all on that line. */
export function cutLine(line: string, lineNumber: number, heading: string, max: number): Chunk[] {
  const out: Chunk[] = [];
  let offset = 0;
  while (offset < line.length) {
    let end = Math.min(line.length, offset + max);
    // Cut between words when there is a space in the second half of the piece.
    const space = end < line.length ? line.lastIndexOf(' ', end) : -1;
    if (space > offset + max / 2) end = space + 1;
    const text = line.slice(offset, end).trim();
    if (text) out.push({ startLine: lineNumber, endLine: lineNumber, heading, text });
    offset = end;
  }
  return out;
}

/** The first and last non-blank line of a range (0-based, inclusive). */
function trimmedRange(lines: string[], start: number, end: number): [number, number] {
  let first = start;
  let last = end - 1;
  while (first < last && (lines[first] ?? '').trim() === '') first++;
  while (last > first && (lines[last] ?? '').trim() === '') last--;
  return [first, last];
}

function charCount(lines: string[], start: number, end: number): number {
  let total = 0;
  for (let i = start; i < end; i++) total += (lines[i]?.length ?? 0) + 1;
  return total;
}

function headingPath(headings: string[]): string {
  return headings.filter((h) => h.length > 0).join(HEADING_JOIN);
}
