/** The retention stamp on notes Keel writes into working memory: added, never overriding the writer. */
import { describe, expect, it } from 'vitest';
import { stampWorkingNote } from '../../../daemon/src/memory/retention/workingStamp';

const rules = [{ path: 'memory/working/**', after: '30d', then: 'archive' as const }];
const now = new Date('2026-03-01T10:00:00.000Z');
const source = { run: 'r-1', event: 'email.received:mail:42' };

describe('stampWorkingNote', () => {
  it('adds created, expires and source to a note without frontmatter', () => {
    expect(stampWorkingNote('memory/working/a.md', '# A\n', { rules, now, source })).toBe(
      '---\ncreated: 2026-03-01T10:00:00.000Z\nexpires: 2026-03-31T10:00:00.000Z\n' +
        'source: {"run":"r-1","event":"email.received:mail:42"}\n---\n# A\n',
    );
  });

  it('keeps what the writer said, and counts expires from its created', () => {
    const text = '---\ntype: brief\ncreated: 2026-01-01\nsource: { run: mine }\n---\n# B\n';
    expect(stampWorkingNote('memory/working/b.md', text, { rules, now, source })).toBe(
      '---\ntype: brief\ncreated: 2026-01-01\nsource: { run: mine }\nexpires: 2026-01-31T00:00:00.000Z\n---\n# B\n',
    );
    const done = '---\ncreated: x\nexpires: y\nsource: z\n---\nC';
    expect(stampWorkingNote('memory/working/c.md', done, { rules, now, source })).toBe(done);
  });

  it('leaves paths outside retention, non-Markdown files and broken frontmatter alone', () => {
    expect(stampWorkingNote('memory/notes/a.md', '# A', { rules, now, source })).toBe('# A');
    expect(stampWorkingNote('memory/working/a.yaml', 'a: 1', { rules, now, source })).toBe('a: 1');
    const broken = '---\n: [\n---\nbody';
    expect(stampWorkingNote('memory/working/d.md', broken, { rules, now, source })).toBe(broken);
  });
});
