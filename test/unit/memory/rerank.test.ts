/** The structure stage: notes near strong matches, and notes whose frontmatter the query names, rise. */
import { describe, expect, it } from 'vitest';
import { mentionsOf, normalizeForMatch, structureRerank } from '../../../daemon/src/memory/rerank';

describe('structure rerank', () => {
  it('lifts a note whose folder holds other strong matches above an isolated one', () => {
    const ranked = structureRerank('renewal terms', [
      { id: 'x', score: 0.62, path: 'memory/misc/x.md', mentions: [] },
      { id: 'a1', score: 0.6, path: 'memory/acme/a1.md', mentions: [] },
      { id: 'a2', score: 0.55, path: 'memory/acme/a2.md', mentions: [] },
      { id: 'a3', score: 0.5, path: 'memory/acme/a3.md', mentions: [] },
    ]);
    expect(ranked[0]!.id).toBe('a1');
  });

  it('lifts a note whose frontmatter value the query names, by whole words only', () => {
    const notes = [
      { id: 'lena', score: 0.5, path: 'm/1.md', mentions: mentionsOf({ speaker: 'Lena Vos' }) },
      { id: 'other', score: 0.6, path: 'm/2.md', mentions: mentionsOf({ speaker: 'Sam' }) },
    ];
    expect(structureRerank('What did Lena Vos say about pricing?', notes)[0]!.id).toBe('lena');
    expect(structureRerank('What did Lenav say?', notes)[0]!.id).toBe('other');
  });

  it('matches dates however they are written', () => {
    expect(normalizeForMatch('On October 13, 2023 we met')).toBe('on 13 october 2023 we met');
    expect(normalizeForMatch('the 8th of May, 2023')).toBe('the 8 may 2023');
    expect(mentionsOf({ date: '2023-10-13', count: 12, tags: ['vip', 'a b c d e'] })).toEqual([
      '13 october 2023',
      'vip',
    ]);
  });

  it('leaves the order of a flat workspace without mentions unchanged', () => {
    const notes = [
      { id: 'b', score: 0.9, path: 'b.md', mentions: [] },
      { id: 'a', score: 0.4, path: 'a.md', mentions: [] },
    ];
    expect(structureRerank('anything', notes).map((n) => n.id)).toEqual(['b', 'a']);
  });
});
