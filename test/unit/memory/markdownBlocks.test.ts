/**
 * The chunker reads only markdown-it's block stage (no inline parsing): its top-level blocks, line
 * ranges and heading titles, and so every chunk, must be exactly those of the full parse it
 * replaced, on varied Markdown and on random mixes of the constructs that decide block borders.
 */
import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { parseFile } from '../../../daemon/src/memory/parse/index';
import { splitFrontmatter } from '../../../daemon/src/memory/parse/frontmatter';
import { topLevelBlocks, type Block } from '../../../daemon/src/memory/parse/markdown';

/** The blocks as the chunker computed them before: from a full `parse`, inline stage included. */
function fullParseBlocks(body: string): Block[] {
  const tokens = new MarkdownIt('commonmark').parse(body, {});
  const blocks: Block[] = [];
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

const NOTES: Record<string, string> = {
  atx: '# Acme *Corp*\n\nText with `code` and [a link](x).\n\n## Contract ##\nRenewal in **March**.\n',
  setext:
    'Acme Corp\n=========\n\nIntro\nstill intro\n\nContract\n--------\n\ntext\n---\nnot a heading: a rule\n',
  fences:
    '# A\n\n```yaml\n# not a heading\nkey: value\n\n```\n\n~~~\n## nor this\n~~~~\n\n````\n```\ninner\n````\nafter\n',
  unclosedFence: '# A\n\n```\n# inside until the end\n\n## still inside\n',
  lists:
    '- one\n- two\n\n  continued\n- three\n\n1. first\n2) second\n10. tenth\n\ntext\n* a\n  # heading in item\n',
  lazy: '> quote\nlazy continuation\n> # heading in quote\n\n> a\n\n    indented code\n    # not a heading\n\npara\n    not code\n',
  html: '<div>\n\n# inside html? no\n</div>\n\n<!-- comment\n# hidden\n-->\n\n<pre>\n# pre\n</pre>\ntext\n',
  references: '[id]: http://example.com "Title"\n\n# After\n\n[id]\n\n[other]:\n  http://x\n',
  emptyHeadings: '#\n\n# \n\n###### six\n####### seven is text\n#no space\n\\# escaped\n',
  nul: '# Tit\0le\n\ntext\0more\n',
  tables: '| a | b |\n|---|---|\n| 1 | 2 |\n\n# After table\n',
  blankLines: '\n\n\n# Late\n\n\n\ntext\n\n\n\n',
  thematic: '***\n---\n___\n\n- - -\n# after\n',
};

describe('the block stage alone', () => {
  for (const [name, body] of Object.entries(NOTES)) {
    it(`finds the blocks of a full parse: ${name}`, () => {
      expect(topLevelBlocks(body)).toEqual(fullParseBlocks(body));
    });
  }

  it('finds the blocks of a full parse on 500 random mixes of block constructs', () => {
    const pieces = [
      '# Heading',
      '## Sub *heading*',
      'plain text',
      'more text with `code`',
      '',
      '',
      '```',
      '```js',
      '~~~',
      '    indented',
      '- item',
      '  continued item',
      '1. ordered',
      '> quote',
      '===',
      '---',
      '***',
      '<div>',
      '</div>',
      '<!-- c -->',
      '[ref]: /url',
      '| a | b |',
      '\t tab',
      '#not heading',
      'Setext\n=====',
    ];
    let seed = 14;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let doc = 0; doc < 500; doc++) {
      const lines = Array.from({ length: 5 + random(40) }, () => pieces[random(pieces.length)]!);
      const body = lines.join('\n');
      expect(topLevelBlocks(body), body).toEqual(fullParseBlocks(body));
    }
  });
});

describe('whole notes', () => {
  const lf =
    '---\ntype: customer\ntags: [a]\n---\nAcme\n====\n\nIntro.\n\n```\n# code\n```\n\n## Contract\n\n- renewal\n- March\n';

  it('splits a note with frontmatter into the chunks of its full-parse blocks', () => {
    const parsed = parseFile('memory/acme.md', lf);
    if (!parsed.ok) throw new Error(parsed.problem.message);
    const body = splitFrontmatter(lf).body;
    expect(topLevelBlocks(body)).toEqual(fullParseBlocks(body));
    expect(parsed.file.chunks).toEqual([
      { startLine: 5, endLine: 12, heading: 'Acme', text: 'Acme\n====\n\nIntro.\n\n```\n# code\n```' },
      { startLine: 14, endLine: 17, heading: 'Acme > Contract', text: '## Contract\n\n- renewal\n- March' },
    ]);
  });

  it('gives a note with Windows line endings the same chunks', () => {
    const crlf = parseFile('memory/acme.md', lf.replace(/\n/g, '\r\n'));
    const unix = parseFile('memory/acme.md', lf);
    expect(crlf).toEqual(unix);
  });
});
