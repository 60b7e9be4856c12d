/**
 * The mention prior lifts a note whose short frontmatter value the query names. Frontmatter is
 * untrusted (a saved mail, a pasted page): a note listing stop words must not be lifted for every
 * question that contains them, nor a note listing hundreds of values for hundreds of topics.
 */
import { expect, it } from 'vitest';
import { mentionsOf, structureRerank, STRUCTURE } from '../../daemon/src/memory/rerank';

const STOP_WORD_TAGS = ['what', 'when', 'who', 'how', 'is', 'the', 'did', 'does', 'about', 'with', 'for'];

it('does not lift a note whose frontmatter lists the words of every question', () => {
  // Equal scores from the searches, one folder: only the mention prior could tell them apart.
  const candidates = [
    {
      id: 'a',
      score: 0.5,
      path: 'memory/calls/invoice.md',
      mentions: mentionsOf({ with: 'Priya' }),
      text: '',
    },
    {
      id: 'b',
      score: 0.5,
      path: 'memory/calls/offer.md',
      mentions: mentionsOf({ tags: STOP_WORD_TAGS }),
      text: '',
    },
  ];
  const [first, second] = structureRerank('what did Dana say about the invoice', candidates);
  expect(first!.score).toBe(second!.score);
  // A real mention still counts.
  const named = structureRerank('what did Priya say about the invoice', candidates);
  expect(named[0]!.path).toBe('memory/calls/invoice.md');
  // By the mention prior's boost alone (term coverage, which also reads the values, set aside).
  const prior = structureRerank('what did Priya say about the invoice', candidates, {
    ...STRUCTURE,
    coverageWeight: 0,
  });
  expect(prior[0]!.score - prior[1]!.score).toBeCloseTo(STRUCTURE.mentionBoost, 10);
});

it('keeps no stop-word values and at most a bounded number of values per note', () => {
  expect(mentionsOf({ tags: STOP_WORD_TAGS, with: 'Dana' })).toEqual(['dana']);
  const many = Array.from({ length: 1_000 }, (_, i) => `topic ${i} alpha`);
  expect(mentionsOf({ tags: many })).toHaveLength(STRUCTURE.maxMentions);
});
