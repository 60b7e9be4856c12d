/**
 * A note's layout gives back exactly the chunks a parse gives (noteLayout.ts), for notes whose
 * text, headings or fields are awkward, and refuses a note whose chunks are not its text as it is.
 */
import { describe, expect, it } from 'vitest';
import { chunkViewsOf } from '../../daemon/src/memory/indexBatch';
import { layoutOf, viewsOf } from '../../daemon/src/memory/noteLayout';
import { parseFile } from '../../daemon/src/memory/parse/index';
import type { ChunkView } from '../../daemon/src/memory/store/chunkIndex';

function parsedViews(path: string, text: string): ChunkView[] {
  const parsed = parseFile(path, text);
  if (!parsed.ok) throw new Error(parsed.problem.message);
  return chunkViewsOf(path, parsed.file, parsed.file.meta.date ?? '2026-01-01');
}

const NOTES: Record<string, string> = {
  'plain.md':
    '---\ntype: customer\ntags: [logistics, priority]\ndate: 2026-03-01\ncompany: Acme Corp\n---\n' +
    '# Acme\n\nLogistics firm.\n\n## Contract\n\nRenewal in March.\n\n## Contacts\n\nSam.\n',
  'no-frontmatter.md': 'Text before any heading.\n\n# Later\n\nAnd after it.\n',
  'unicode.md':
    '---\ntype: note\ntags: [caf\u00e9, \u6771\u4eac]\ndate: 2026-01-02\nowner: Zo\u00eb \u2014 \u{1F600}\n---\n' +
    '# R\u00e9sum\u00e9 \u2014 \u6771\u4eac\n\nEmoji \u{1F680} and \u00fc.\n\n## Na\u00efve > not a path\n\nText.\n',
  'repeated.md': '# A\n\nsame words\n\n# B\n\nsame words\n\n# C\n\nsame words\n',
  'in-frontmatter.md': '---\ntitle: same words\ndate: 2026-01-03\n---\n# T\n\nsame words\n',
  'long-line.md': `# Log\n\n${'word '.repeat(1_000)}\n\nAfter.\n`,
  'setext.md': 'Title\n=====\n\nBody.\n\nSub\n---\n\nMore body.\n',
  'empty.md': '---\ndate: 2026-01-04\n---\n',
  'bom.md': '\uFEFF# Heading\n\nWith a byte order mark.\n',
  'crlf.md':
    '---\r\ndate: 2026-01-06\r\n---\r\n# Title\r\n\r\nFirst line\r\nsecond line\r\n\r\n## Next\r\n\r\nMore.\r\n',
  'quotes.md': '# "Quoted" \\ back\\slash\n\nA "line" with \\n in it.\n',
  'data.yaml': 'type: runbook\ntags: [ops]\nsteps:\n  - name: one\n  - name: two\n',
  'skipped-level.md': '# Top\n\nIntro.\n\n### Deep\n\nUnder a missing level.\n\n## > Odd > title\n\nText.\n',
  'many-headings.md': Array.from({ length: 60 }, (_, i) => `## Part ${i}\n\nline ${i % 7}\n`).join('\n'),
};

describe('note layout', () => {
  for (const [path, text] of Object.entries(NOTES)) {
    it(`gives back the parsed chunks of ${path}`, () => {
      const views = parsedViews(path, text);
      const layout = layoutOf(text, views);
      expect(layout).not.toBeNull();
      expect(viewsOf(path, text, layout!)).toEqual(views);
    });
  }

  it('takes a byte a character, whatever the note holds', () => {
    const layout = layoutOf(NOTES['unicode.md']!, parsedViews('unicode.md', NOTES['unicode.md']!))!;
    expect([...layout].filter((char) => char.charCodeAt(0) > 0xff)).toEqual([]);
    expect(layout).toContain('\\u6771');
  });

  it('refuses a note whose chunks are not its text as it is', () => {
    const views = parsedViews('plain.md', NOTES['plain.md']!);
    expect(layoutOf('something else', views)).toBeNull();
    // Chunks out of order are not a note's.
    expect(layoutOf(NOTES['plain.md']!, [...views].reverse())).toBeNull();
  });

  it('refuses what LanceDB would not hold as it is, and notes too costly to keep laid out', () => {
    // A long line cut between the two halves of a surrogate pair; an escape in the YAML.
    const cut = `# Log\n\n${'a'.repeat(1_999)}\u{1F600} tail\n`;
    expect(parsedViews('cut.md', cut).some((view) => view.text.endsWith('\uD83D'))).toBe(true);
    expect(layoutOf(cut, parsedViews('cut.md', cut))).toBeNull();
    const escaped = '---\ntype: "a\\ud800b"\ndate: 2026-01-05\n---\n# E\n\ntext\n';
    expect(layoutOf(escaped, parsedViews('escaped.md', escaped))).toBeNull();
    const many = Array.from({ length: 201 }, (_, i) => `# ${i}\n\nx\n`).join('\n');
    expect(parsedViews('many.md', many)).toHaveLength(201);
    expect(layoutOf(many, parsedViews('many.md', many))).toBeNull();
    const long = Array.from({ length: 60 }, (_, i) => `# ${'heading '.repeat(10)}${i}\n\nx\n`).join('\n');
    expect(layoutOf(long, parsedViews('long.md', long))).toBeNull();
  });
});
