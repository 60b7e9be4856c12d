/**
 * A note's layout: what the index holds of its chunks apart from their text, and where that text
 * is in the note. With it, a note's chunks come back from its file by slicing (noteChunks.ts)
 * instead of parsing it again: the frontmatter's YAML, the Markdown's blocks and the views took
 * 0.15-0.2 ms a note, the layout about 5 us.
 *
 * The writer keeps one for nearly every note it indexes, so it is kept small: one JSON string a
 * note, non-Latin-1 characters escaped so that it takes a byte a character, and bounded (below).
 * The benchmark's 18,102 notes (100,000 chunks) take 360 characters each, 7 MB of heap; as
 * objects and arrays of strings they took 25 MB. Laying them out cost the writer 9 us a note.
 */
import { lineBreaksAsParsed } from './parse/index';
import { HEADING_JOIN } from './parse/markdown';
import type { ChunkView } from './store/chunkIndex';

/** One note's layout (`layoutOf`), read by `viewsOf`. */
export type NoteLayout = string & { readonly layout: unique symbol };

/**
 * The JSON: the fields every chunk of the note shows (`type`, `tags`, `date`, `review_by`,
 * `mentions`); the note's heading titles and its distinct heading paths (`Acme > Renewal`) as
 * lists of titles; and five numbers a chunk: where its text starts and ends in the note's text
 * (end exclusive), its first and last line, and its heading path.
 */
type Packed = [
  fields: [string | null, string[], string | null, string | null, string[]],
  titles: string[],
  headings: number[][],
  chunks: number[],
];

const PER_CHUNK = 5;

/**
 * The largest note read back from its file (noteChunks.ts), and so laid out: a larger one is read
 * from the index.
 */
export const LAYOUT_MAX_BYTES = 16 * 1024;
/**
 * A note of more chunks, or whose layout is longer, gets none (and is read from the index or
 * parsed): a note of 16 KB of headings alone has 1,500 chunks and a layout of 60,000 characters,
 * kept as long as the daemon runs, and 0.5-1 ms to read back at each search that reaches it.
 */
const LAYOUT_MAX_CHUNKS = 200;
const LAYOUT_MAX_CHARS = 4 * 1024;

/**
 * The layout of one note's chunks (`views`, in order) in its text, or null when the note gets
 * none: a chunk's text is not in the text as the parser reads it, a string would not be kept as it
 * is (`wellFormed`), or the note is past the bounds above.
 */
export function layoutOf(text: string, views: readonly ChunkView[]): NoteLayout | null {
  if (views.length > LAYOUT_MAX_CHUNKS || !views.every(wellFormed)) return null;
  // A chunk of several lines is in the text as the parser reads it, not in the file's.
  const source = lineBreaksAsParsed(text);
  // Numbered in order of appearance, looked up by Map: a note can have hundreds of headings.
  const numbered = (known: Map<string, number>, value: string): number => {
    const number = known.get(value) ?? known.size;
    known.set(value, number);
    return number;
  };
  const headings = new Map<string, number>();
  const chunks: number[] = [];
  let from = 0;
  for (const [i, view] of views.entries()) {
    if (view.chunk !== i) return null;
    // Chunks follow one another, so each is looked for after the one before. A copy of its text
    // earlier on (in the frontmatter, say) would do as well: the slice is the same text.
    const at = source.indexOf(view.text, from);
    if (at < 0) return null;
    chunks.push(at, at + view.text.length, view.start_line, view.end_line, numbered(headings, view.heading));
    from = at + view.text.length;
  }
  const titles = new Map<string, number>();
  const paths = [...headings.keys()].map((heading) =>
    heading.split(HEADING_JOIN).map((title) => numbered(titles, title)),
  );
  const first = views[0];
  const packed: Packed = [
    [
      first?.type ?? null,
      first?.tags ?? [],
      first?.date ?? null,
      first?.review_by ?? null,
      first?.mentions ?? [],
    ],
    [...titles.keys()],
    paths,
    chunks,
  ];
  const layout = JSON.stringify(packed).replace(/[\u0100-\uffff]/g, escaped);
  return layout.length <= LAYOUT_MAX_CHARS ? (layout as NoteLayout) : null;
}

/** The chunks of the note at `path` whose text is `text`, as laid out by `layout`. */
export function viewsOf(path: string, text: string, layout: NoteLayout): ChunkView[] {
  const [[type, tags, date, reviewBy, mentions], titles, paths, chunks] = JSON.parse(layout) as Packed;
  const source = lineBreaksAsParsed(text);
  const headings = paths.map((path) => path.map((title) => titles[title]).join(HEADING_JOIN));
  const views: ChunkView[] = [];
  for (let i = 0; i * PER_CHUNK < chunks.length; i++) {
    const [start, end, startLine, endLine, heading] = chunks.slice(i * PER_CHUNK, (i + 1) * PER_CHUNK);
    views.push({
      id: `${path}#${i}`,
      path,
      chunk: i,
      start_line: startLine!,
      end_line: endLine!,
      heading: headings[heading!]!,
      text: source.slice(start, end),
      type,
      tags,
      date,
      review_by: reviewBy,
      mentions,
    });
  }
  return views;
}

/** Half of a surrogate pair without the other half (`String.isWellFormed` is ES2024). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether every string of the view is well-formed UTF-16. LanceDB keeps UTF-8, where a lone half of
 * a surrogate pair (a long line cut between the two, an escape in the YAML) becomes U+FFFD: only
 * the index has such a note as the index holds it.
 */
export function wellFormed(view: ChunkView): boolean {
  const strings = [
    view.text,
    view.heading,
    view.type,
    view.date,
    view.review_by,
    ...view.tags,
    ...view.mentions,
  ];
  return strings.every((string) => string === null || !LONE_SURROGATE.test(string));
}

/** A character as a JSON escape (`\u2014`). */
function escaped(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}
