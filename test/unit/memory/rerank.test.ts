/** The structure stage: notes near strong matches, and notes whose frontmatter the query names, rise. */
import { describe, expect, it } from 'vitest';
import {
  mentionsOf,
  normalizeForMatch,
  STRUCTURE,
  structureRerank,
  termCoverage,
} from '../../../daemon/src/memory/rerank';

describe('structure rerank', () => {
  it('lifts a note whose folder holds other strong matches above an isolated one', () => {
    const ranked = structureRerank('renewal terms', [
      { id: 'x', score: 0.62, path: 'memory/misc/x.md', mentions: [], text: '' },
      { id: 'a1', score: 0.6, path: 'memory/acme/a1.md', mentions: [], text: '' },
      { id: 'a2', score: 0.55, path: 'memory/acme/a2.md', mentions: [], text: '' },
      { id: 'a3', score: 0.5, path: 'memory/acme/a3.md', mentions: [], text: '' },
    ]);
    expect(ranked[0]!.id).toBe('a1');
  });

  it('lifts a note whose frontmatter value the query names, by whole words only', () => {
    const notes = [
      { id: 'lena', score: 0.5, path: 'm/1.md', mentions: mentionsOf({ speaker: 'Lena Vos' }), text: '' },
      { id: 'other', score: 0.6, path: 'm/2.md', mentions: mentionsOf({ speaker: 'Sam' }), text: '' },
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
      { id: 'b', score: 0.9, path: 'b.md', mentions: [], text: '' },
      { id: 'a', score: 0.4, path: 'a.md', mentions: [], text: '' },
    ];
    expect(structureRerank('anything', notes).map((n) => n.id)).toEqual(['b', 'a']);
  });

  it('lifts the note holding more of what the question asks about above one repeating a single word', () => {
    const question = 'What did Nate think of the coconut ice cream he made?';
    const notes = [
      { id: 'repeats', score: 0.7, path: 'm/1.md', mentions: [], text: 'Coconut, coconut, so much coconut!' },
      {
        id: 'answers',
        score: 0.6,
        path: 'm/2.md',
        mentions: [],
        text: 'The coconut ice cream I made? Super good, I think.',
      },
    ];
    expect(structureRerank(question, notes)[0]!.id).toBe('answers');
    // Without the coverage prior the full-text order stands.
    expect(structureRerank(question, notes, { ...STRUCTURE, coverageWeight: 0 })[0]!.id).toBe('repeats');
  });
});

describe('term coverage', () => {
  it('weighs a word by how few candidates hold it, and stems what it compares', () => {
    const [all, melanie, pottery, none] = termCoverage('Which pottery classes did Melanie sign up for?', [
      'Melanie signed up for a pottery class',
      'Melanie went camping',
      'The pottery was lovely',
      'Nothing here',
    ]);
    // "classes" and "class", "sign" and "signed" are one word each.
    expect(all).toBeCloseTo(1, 10);
    expect(none).toBe(0);
    // "melanie" and "pottery" are each in two texts of four: the same share, and less than the
    // rarer "class" and "sign" (one text each) bring the first text.
    const share = Math.log(5 / 2.5) / (2 * Math.log(5 / 2.5) + 2 * Math.log(5 / 1.5));
    expect(melanie).toBeCloseTo(share, 10);
    expect(pottery).toBeCloseTo(share, 10);
  });

  it('gives nothing for a word every candidate holds, nor for a question of stop words only', () => {
    expect(termCoverage('Melanie and the lake', ['Melanie at the lake', 'Melanie at home'])).toEqual([
      1,
      expect.closeTo(Math.log(3 / 2.5) / (Math.log(3 / 2.5) + Math.log(3 / 1.5)), 10),
    ]);
    expect(termCoverage('what is it?', ['it is what it is'])).toEqual([0]);
  });
});
