/** Notes built to be slow or to blow up the parser cost milliseconds and stay the note's own problem. */
import { describe, expect, it } from 'vitest';
import { MAX_WORD_CHARS, tokenize } from '../../../daemon/src/memory/embed/local';
import { PARSE_LIMITS, parseFile } from '../../../daemon/src/memory/parse/index';
import { DEFAULT_LIMITS } from '../../../daemon/src/memory/parse/markdown';

function timed<T>(work: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = work();
  return { value, ms: performance.now() - started };
}

const aliasBomb = (): string[] => {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [i, name] of [...'bcdefghi'].entries()) {
    lines.push(`${name}: &${name} [${Array(9).fill(`*${'abcdefghi'[i]!}`).join(',')}]`);
  }
  return lines;
};

describe('hostile notes', () => {
  it('skips words longer than any word the embedder knows before they reach the stemmer', () => {
    const words = tokenize(`${'x'.repeat(1_000_000)} quokka ${'y'.repeat(MAX_WORD_CHARS)}`);
    expect(words).toEqual(['quokka', 'y'.repeat(MAX_WORD_CHARS)]);
  });

  it('cuts a 1 MB line into chunks of bounded size on that line, ending with its last words', () => {
    const { value, ms } = timed(() =>
      parseFile('memory/log.md', `# Log\n\n${'lorem ipsum '.repeat(90_000)}zebracorn\n`),
    );
    expect(ms).toBeLessThan(1_000);
    if (!value.ok) throw new Error(value.problem.message);
    const { chunks } = value.file;
    expect(chunks.length).toBeGreaterThan(400);
    expect(Math.max(...chunks.map((c) => c.text.length))).toBeLessThanOrEqual(DEFAULT_LIMITS.hardMaxChars);
    // The heading (line 1) is a piece of its own; every other piece is on the long line.
    expect(chunks.slice(1).every((c) => c.startLine === 3 && c.endLine === 3)).toBe(true);
    expect(chunks.at(-1)!.text).toMatch(/zebracorn$/);
  });

  it('keeps the first chunks of a file that has too many, with a warning on the first line left out', () => {
    const parsed = parseFile('memory/big.md', `# Big\n\n${'word '.repeat(600 * PARSE_LIMITS.maxChunks)}\n`);
    if (!parsed.ok) throw new Error(parsed.problem.message);
    expect(parsed.file.chunks).toHaveLength(PARSE_LIMITS.maxChunks);
    expect(parsed.file.problems).toMatchObject([{ severity: 'warning', line: 3 }]);
  });

  it('reports an alias bomb in frontmatter or a YAML file at its first alias, in milliseconds', () => {
    const note = timed(() => parseFile('memory/bomb.md', `---\n${aliasBomb().join('\n')}\n---\n# Bomb\n`));
    expect(note.ms).toBeLessThan(1_000);
    expect(note.value).toMatchObject({ ok: false, problem: { path: 'memory/bomb.md', line: 3, column: 8 } });
    const yaml = parseFile('runbooks/bomb.yaml', aliasBomb().join('\n'));
    expect(yaml).toMatchObject({ ok: false, problem: { path: 'runbooks/bomb.yaml', line: 2 } });
    if (!yaml.ok) expect(yaml.problem.message).toMatch(/aliases expand too far/);
  });

  it('refuses oversized frontmatter and YAML files unparsed', () => {
    const frontmatter = `---\n${'key: value\n'.repeat(PARSE_LIMITS.maxFrontmatterChars / 8)}---\n# Note\n`;
    expect(parseFile('memory/fm.md', frontmatter)).toMatchObject({ ok: false, problem: { line: 2 } });
    const yaml = `list:\n${'  - item\n'.repeat(PARSE_LIMITS.maxYamlChars / 8)}`;
    expect(parseFile('runbooks/huge.yaml', yaml)).toMatchObject({ ok: false, problem: { line: 1 } });
  });
});
