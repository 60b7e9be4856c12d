/** Notes become chunks that follow headings, stay within size bounds and keep exact line ranges. */
import { describe, expect, it } from 'vitest';
import { parseFile } from '../../../daemon/src/memory/parse/index';
import { chunkMarkdown, DEFAULT_LIMITS } from '../../../daemon/src/memory/parse/markdown';

const note = [
  '---', // 1
  'type: customer', // 2
  '---', // 3
  '# Acme Corp', // 4
  '', // 5
  'Logistics firm in Rotterdam.', // 6
  '', // 7
  '## Contract', // 8
  '', // 9
  'Renewal in March.', // 10
  '', // 11
  '```yaml', // 12
  '# not a heading', // 13
  '```', // 14
  '', // 15
  '## People', // 16
  '### Lena', // 17
  'Left in October.', // 18
].join('\n');

describe('chunking Markdown', () => {
  it('follows headings, keeps code blocks whole and reports 1-based line ranges of the file', () => {
    const parsed = parseFile('memory/acme.md', note);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(
      parsed.file.chunks.map(({ startLine, endLine, heading }) => ({ startLine, endLine, heading })),
    ).toEqual([
      { startLine: 4, endLine: 6, heading: 'Acme Corp' },
      { startLine: 8, endLine: 14, heading: 'Acme Corp > Contract' },
      { startLine: 17, endLine: 18, heading: 'Acme Corp > People > Lena' },
    ]);
    expect(parsed.file.chunks[1]!.text).toContain('# not a heading');
  });

  it('every chunk text is exactly the file lines of its range', () => {
    const parsed = parseFile('memory/acme.md', note);
    if (!parsed.ok) throw new Error('should parse');
    const lines = note.split('\n');
    for (const chunk of parsed.file.chunks) {
      expect(chunk.text).toBe(lines.slice(chunk.startLine - 1, chunk.endLine).join('\n'));
    }
  });

  it('splits a long section into chunks within the size bounds, in order and without overlap', () => {
    const paragraphs = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} ${'word '.repeat(40)}`);
    const body = `# Long\n\n${paragraphs.join('\n\n')}\n`;
    const chunks = chunkMarkdown(body, 1);
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(DEFAULT_LIMITS.hardMaxChars);
      expect(chunk.heading).toBe('Long');
    }
    for (let i = 1; i < chunks.length; i++)
      expect(chunks[i]!.startLine).toBeGreaterThan(chunks[i - 1]!.endLine);
    expect(chunks.map((c) => c.text).join('\n')).toContain('Paragraph 39');
  });

  it('cuts a single giant block at line boundaries', () => {
    const body = Array.from({ length: 400 }, (_, i) => `line ${i} of a giant table | cell | cell |`).join(
      '\n',
    );
    const chunks = chunkMarkdown(body, 1);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(DEFAULT_LIMITS.hardMaxChars);
    expect(chunks.at(-1)!.endLine).toBe(400);
  });

  it('keeps text before the first heading, and handles CRLF and a byte-order mark', () => {
    const parsed = parseFile(
      'memory/x.md',
      '\uFEFF---\r\ntype: note\r\n---\r\nIntro line.\r\n\r\n# Later\r\nMore.\r\n',
    );
    if (!parsed.ok) throw new Error('should parse');
    expect(parsed.file.meta.type).toBe('note');
    expect(parsed.file.chunks.map((c) => [c.heading, c.startLine])).toEqual([
      ['', 4],
      ['Later', 6],
    ]);
  });
});

describe('frontmatter', () => {
  it('reads type, tags (list or comma string), dates and review-by', () => {
    const parsed = parseFile(
      'memory/a.md',
      '---\ntype: contract\ntags: legal, acme\ndate: 2026-03-01\nreview-by: 2027-01-01\n---\nx\n',
    );
    if (!parsed.ok) throw new Error('should parse');
    expect(parsed.file.meta).toMatchObject({
      type: 'contract',
      tags: ['legal', 'acme'],
      date: '2026-03-01',
      reviewBy: '2027-01-01',
    });
  });

  it('rejects a note whose frontmatter is not YAML, naming the line', () => {
    const parsed = parseFile('memory/bad.md', '---\ntype: customer\ntags: [a, b\n---\nbody\n');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problem).toMatchObject({ path: 'memory/bad.md', severity: 'error' });
    expect(parsed.problem.line).toBeGreaterThanOrEqual(3);
    expect(parsed.problem.message).toMatch(/not valid YAML.*not indexed until this is fixed/);
  });

  it('indexes a note with a wrongly typed key, ignoring that key with a warning at its place', () => {
    const parsed = parseFile('memory/w.md', '---\ntype: note\nreview-by: next week\n---\nbody\n');
    if (!parsed.ok) throw new Error('should parse');
    expect(parsed.file.meta.reviewBy).toBeNull();
    expect(parsed.file.meta.type).toBe('note');
    expect(parsed.file.problems).toEqual([
      expect.objectContaining({
        line: 3,
        column: 12,
        severity: 'warning',
        message: expect.stringMatching(/review-by.*YYYY-MM-DD/),
      }),
    ]);
  });

  it('treats an unclosed fence as body text, not frontmatter', () => {
    const parsed = parseFile('memory/u.md', '---\nnot closed\n# Title\n');
    if (!parsed.ok) throw new Error('should parse');
    expect(parsed.file.frontmatter).toBeNull();
  });
});

describe('YAML files', () => {
  it('chunks by top-level key and reports a syntax error with its line', () => {
    const ok = parseFile(
      'runbooks/a.yaml',
      `name: a\ndescription: ${'long '.repeat(300)}\nsteps:\n  - x: 1\n`,
    );
    if (!ok.ok) throw new Error('should parse');
    expect(ok.file.chunks.map((c) => c.heading)).toEqual(['name', 'description', 'steps']);
    const bad = parseFile('runbooks/b.yml', 'name: b\nsteps: [\n');
    expect(bad.ok).toBe(false);
  });
});
