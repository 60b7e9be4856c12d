/**
 * Prose and Markdown blocks drawn from the vocabulary: sentences with names, companies, amounts and
 * dates mixed in, lists, task lists, tables and code blocks, as a company's notes have them.
 */
import { Random } from './random';
import { capitalize, type Vocabulary } from './vocabulary';

export const FIRST_DAY = Date.UTC(2021, 0, 1);
export const LAST_DAY = Date.UTC(2026, 10, 30);
const DAY_MS = 86_400_000;

export class TextWriter {
  constructor(
    readonly random: Random,
    readonly vocabulary: Vocabulary,
  ) {}

  word(): string {
    return this.vocabulary.words[this.vocabulary.zipf.draw(this.random)]!;
  }

  /** A content word for titles and topics: frequent enough to matter, never a function word. */
  topic(): string {
    return this.random.pick(this.vocabulary.queryWords.slice(0, 800));
  }

  /** A word or, now and then, a named thing: what makes notes findable by name. */
  term(): string {
    const roll = this.random.next();
    const v = this.vocabulary;
    if (roll < 0.025) return this.random.pick(v.companies);
    if (roll < 0.045) return this.random.pick(v.people);
    if (roll < 0.055) return this.random.pick(v.products);
    if (roll < 0.062) return `${this.random.int(1, 90) * 500} EUR`;
    if (roll < 0.067) return this.date();
    return this.word();
  }

  sentence(min = 6, max = 22): string {
    const count = this.random.int(min, max);
    const words = Array.from({ length: count }, () => this.term());
    const text = capitalize(words.join(' '));
    return text + (this.random.chance(0.08) ? '?' : '.');
  }

  paragraph(min = 2, max = 6): string {
    return Array.from({ length: this.random.int(min, max) }, () => this.sentence()).join(' ');
  }

  /** Several paragraphs separated by blank lines. */
  paragraphs(min: number, max: number): string {
    return Array.from({ length: this.random.int(min, max) }, () => this.paragraph()).join('\n\n');
  }

  bullets(min = 2, max = 7, prefix = '- '): string {
    const count = this.random.int(min, max);
    return Array.from({ length: count }, () => `${prefix}${this.sentence(3, 14)}`).join('\n');
  }

  tasks(min = 2, max = 6): string {
    const count = this.random.int(min, max);
    return Array.from({ length: count }, () => {
      const done = this.random.chance(0.4) ? 'x' : ' ';
      return `- [${done}] ${this.random.pick(this.vocabulary.people)}: ${this.sentence(3, 10)} (due ${this.date()})`;
    }).join('\n');
  }

  table(columns: string[], rows: number): string {
    const header = `| ${columns.join(' | ')} |`;
    const rule = `| ${columns.map(() => '---').join(' | ')} |`;
    const body = Array.from({ length: rows }, () => {
      const cells = columns.map((_, i) => (i === 0 ? capitalize(this.word()) : this.cell()));
      return `| ${cells.join(' | ')} |`;
    });
    return [header, rule, ...body].join('\n');
  }

  codeBlock(): string {
    const language = this.random.pick(['sql', 'ts', 'yaml', 'sh']);
    const lines = Array.from({ length: this.random.int(3, 12) }, () => this.codeLine(language));
    return ['```' + language, ...lines, '```'].join('\n');
  }

  /** A day between 2021-01-01 and 2026-11-30, YYYY-MM-DD. */
  date(): string {
    const days = Math.floor((LAST_DAY - FIRST_DAY) / DAY_MS);
    return new Date(FIRST_DAY + this.random.int(0, days) * DAY_MS).toISOString().slice(0, 10);
  }

  slug(text: string): string {
    return text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  }

  private cell(): string {
    const roll = this.random.next();
    if (roll < 0.4) return `${this.random.int(1, 400) * 25} EUR`;
    if (roll < 0.6) return this.date();
    return `${this.word()} ${this.word()}`;
  }

  private codeLine(language: string): string {
    const a = this.word();
    const b = this.word();
    switch (language) {
      case 'sql':
        return `SELECT ${a}, count(*) FROM ${b} WHERE ${this.word()} > ${this.random.int(1, 999)};`;
      case 'ts':
        return `const ${a} = await ${b}.${this.word()}(${this.random.int(1, 99)});`;
      case 'yaml':
        return `${a}: ${b}`;
      default:
        return `keel ${this.random.pick(['search', 'index', 'status'])} "${a} ${b}"`;
    }
  }
}
