/**
 * Appending text to one section of a Markdown note (a propose step's `append:`), leaving every
 * other byte of the note as it is: its frontmatter, its other sections, its line endings.
 *
 * The appended text is data (a model's answer, a webhook's field): each of its lines is made
 * inert, so it can add lines to the section but never a heading, a frontmatter fence, a thematic
 * break, a code fence or an HTML block that would swallow the sections after it. Then the result
 * is parsed again with the index's own Markdown parser and refused unless its headings and
 * frontmatter are exactly those of the note before (plus the section heading, when it was missing).
 */
import { splitFrontmatter } from '../memory/parse/frontmatter';
import { topLevelBlocks } from '../memory/parse/markdown';

/** Text that cannot be appended as asked; the message says what to change. */
export class AppendError extends Error {}

interface Heading {
  level: number;
  title: string;
}

/**
 * `current` with `text` appended at the end of the section under `heading` (`## Payments`), after
 * its last non-blank line; the heading is added at the end of the note when it has none.
 */
export function appendUnderHeading(current: string, heading: string, text: string): string {
  const wanted = parseHeading(heading);
  const added = inertLines(text);
  if (added.length === 0) throw new AppendError('the text to append is empty');
  // The parser also breaks lines at a lone "\r" (old Mac line ends, a paste): its line numbers
  // would then not be those of the "\n"-split lines below, and the text would land in another
  // section. Such a note is refused rather than guessed at.
  if (/\r(?!\n)/.test(current)) {
    throw new AppendError(
      'the note has a line ending of a lone carriage return (\\r): save it with \\n or \\r\\n line endings first',
    );
  }
  const note = splitFrontmatter(current);
  // The file's own lines, each keeping its "\r" (if any), so joining with "\n" gives it back byte
  // for byte; the body starts at line bodyStartLine.
  const lines = current.split('\n');
  const bodyStart = note.bodyStartLine - 1;
  const eol = current.includes('\r\n') ? '\r' : '';
  const blocks = topLevelBlocks(note.body);
  const found = blocks.findIndex((b) => b.heading && sameHeading(b.heading, wanted));
  let insert: string[];
  let at: number;
  if (found >= 0) {
    const start = bodyStart + blocks[found]!.end;
    const next = blocks.slice(found + 1).find((b) => b.heading && b.heading.level <= wanted.level);
    const end = next ? bodyStart + next.start : lines.length;
    at = lastFilled(lines, start, end);
    // An empty section: a blank line after its heading, and one before the heading that follows.
    insert = at === start ? ['', ...added] : added;
    if (at === start && (lines[at] ?? '').trim() !== '' && at < lines.length) insert.push('');
  } else {
    at = lastFilled(lines, 0, lines.length);
    insert = [...(at > 0 ? [''] : []), heading.trim(), '', ...added];
  }
  if (at === lines.length) {
    // Appending after a last line that has no line break: it gets one, and so does the result.
    lines[at - 1] += eol;
    lines.push('');
  }
  const result = [...lines.slice(0, at), ...insert.map((line) => line + eol), ...lines.slice(at)].join('\n');
  checkStructure(current, result, found >= 0 ? null : wanted);
  return result;
}

/**
 * Each line of `text` (CRLF or LF) made inert: a line starting (after its indent) with `#`, a code
 * fence, `<`, a link reference definition, or made only of `-`, `=`, `*`, `_` (a frontmatter
 * fence, thematic break or setext underline) gets a backslash before its first character, which
 * Markdown shows as the character itself. Blank lines around the text are dropped.
 */
export function inertLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.map((line) => {
    const indent = /^[ \t]*/.exec(line)![0];
    const rest = line.slice(indent.length);
    return blockStarter(rest) ? `${indent}\\${rest}` : line;
  });
}

function blockStarter(line: string): boolean {
  return /^(#|```|~~~|<|\+\+\+)/.test(line) || /^[-=*_][-=*_ \t]*$/.test(line) || /^\[[^\]]*\]:/.test(line);
}

function parseHeading(heading: string): Heading {
  const blocks = heading.includes('\n') || heading.includes('\r') ? [] : topLevelBlocks(heading);
  const only = blocks.length === 1 ? blocks[0]!.heading : undefined;
  if (!only || !/^#{1,6}[ \t]/.test(heading.trim())) {
    throw new AppendError(
      `"${heading}" is not a Markdown heading: \`under\` is one heading line, like "## Payments"`,
    );
  }
  return only;
}

function sameHeading(a: Heading, b: Heading): boolean {
  const words = (title: string): string => title.replace(/\s+/g, ' ').trim().toLowerCase();
  return a.level === b.level && words(a.title) === words(b.title);
}

/** Where to insert in [start, end): after the last non-blank line (start when all are blank). */
function lastFilled(lines: string[], start: number, end: number): number {
  for (let i = end - 1; i >= start; i--) if ((lines[i] ?? '').trim() !== '') return i + 1;
  return start;
}

/** Refuses a result whose frontmatter or headings differ from the note's (plus `added`). */
function checkStructure(before: string, after: string, added: Heading | null): void {
  const was = splitFrontmatter(before);
  const now = splitFrontmatter(after);
  const headings = (body: string): string =>
    JSON.stringify(
      topLevelBlocks(body).flatMap((b) => (b.heading ? [[b.heading.level, b.heading.title]] : [])),
    );
  const expected = JSON.parse(headings(was.body)) as unknown[];
  if (added) expected.push([added.level, added.title]);
  if (was.yaml !== now.yaml || JSON.stringify(expected) !== headings(now.body)) {
    throw new AppendError(
      'appending would change the note beyond the section (its frontmatter or headings, perhaps through ' +
        'a code fence or HTML block the note leaves open): close it in the note, or propose `content` instead',
    );
  }
}
