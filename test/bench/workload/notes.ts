/**
 * One generated note of each kind a one-person company keeps: customers, contracts, meeting notes,
 * decisions, tasks, people and working notes. Each has YAML frontmatter (type, tags, date, and
 * review-by on some) and a body of headed sections whose sizes vary, so the chunker sees notes of a
 * few hundred bytes up to several kilobytes.
 */
import { capitalize } from './vocabulary';
import type { TextWriter } from './text';

export type NoteType = 'customer' | 'contract' | 'meeting' | 'decision' | 'task' | 'person' | 'note';

export interface GeneratedNote {
  /** Workspace-relative, without the de-duplicating suffix the generator may add. */
  path: string;
  type: NoteType;
  tags: string[];
  date: string;
  content: string;
}

/** How often each kind appears: meeting notes and tasks dominate, as in a real workspace. */
export const NOTE_MIX: readonly [NoteType, number][] = [
  ['meeting', 0.3],
  ['task', 0.18],
  ['note', 0.14],
  ['customer', 0.12],
  ['decision', 0.1],
  ['contract', 0.08],
  ['person', 0.08],
];

type Fields = Record<string, string | string[] | undefined>;

export function generateNote(w: TextWriter, type: NoteType): GeneratedNote {
  const makers: Record<NoteType, (w: TextWriter) => GeneratedNote> = {
    customer,
    contract,
    meeting,
    decision,
    task,
    person,
    note,
  };
  return makers[type](w);
}

function customer(w: TextWriter): GeneratedNote {
  const company = w.random.pick(w.vocabulary.companies);
  const date = w.date();
  const tags = pickTags(w, 1, 3);
  const body = [
    `# ${company}`,
    w.paragraphs(1, 2),
    `## Overview\n\n${w.paragraphs(1, 3)}`,
    `## Contacts\n\n${people(w, 1, 4)}`,
    `## Contract\n\n${w.paragraphs(1, 2)}\n\n${w.bullets(2, 5)}`,
    ...sections(w, 1, 4, ['History', 'Open issues', 'Renewal', 'Pricing', 'Support', 'Next steps']),
  ];
  const fields: Fields = {
    type: 'customer',
    title: company,
    tags,
    date,
    owner: w.random.pick(w.vocabulary.people),
    'review-by': w.random.chance(0.5) ? w.date() : undefined,
  };
  return finish(w, `memory/customers/${w.slug(company)}.md`, 'customer', fields, body);
}

function contract(w: TextWriter): GeneratedNote {
  const company = w.random.pick(w.vocabulary.companies);
  const date = w.date();
  const body = [
    `# Contract with ${company}`,
    `## Parties\n\n${w.paragraph(1, 3)}`,
    `## Scope\n\n${w.paragraphs(1, 3)}\n\n${w.bullets(2, 6)}`,
    `## Pricing\n\n${w.table(['Item', 'Price', 'Start', 'Notes'], w.random.int(2, 8))}`,
    `## Terms\n\n${w.bullets(3, 9, '1. ')}`,
    ...sections(w, 1, 3, ['Renewal', 'Termination', 'Liability', 'Amendments', 'Signatures']),
  ];
  const fields: Fields = {
    type: 'contract',
    title: `${company} ${date.slice(0, 4)}`,
    customer: company,
    tags: pickTags(w, 1, 3),
    date,
    value: `${w.random.int(2, 400) * 250} EUR`,
    'review-by': w.random.chance(0.8) ? w.date() : undefined,
  };
  return finish(w, `memory/contracts/${w.slug(company)}-${date.slice(0, 4)}.md`, 'contract', fields, body);
}

function meeting(w: TextWriter): GeneratedNote {
  const company = w.random.pick(w.vocabulary.companies);
  const date = w.date();
  const topic = `${capitalize(w.topic())} ${w.topic()}`;
  const body = [
    `# ${topic} with ${company}`,
    `## Agenda\n\n${w.bullets(2, 6, '1. ')}`,
    `## Notes\n\n${w.paragraphs(2, 5)}`,
    ...sections(w, 0, 3, ['Discussion', 'Questions', 'Numbers', 'Risks', 'Feedback']),
    `## Decisions\n\n${w.bullets(1, 4)}`,
    `## Action items\n\n${w.tasks(2, 6)}`,
  ];
  const fields: Fields = {
    type: 'meeting',
    title: `${topic} with ${company}`,
    date,
    attendees: w.random.sample(w.vocabulary.people, w.random.int(2, 5)),
    customer: company,
    tags: pickTags(w, 1, 3),
  };
  const path = `memory/meetings/${date.slice(0, 4)}/${date}-${w.slug(company)}.md`;
  return finish(w, path, 'meeting', fields, body);
}

function decision(w: TextWriter): GeneratedNote {
  const date = w.date();
  const title = `${capitalize(w.topic())} ${w.topic()} ${w.topic()}`;
  const options = Array.from(
    { length: w.random.int(2, 4) },
    (_, i) => `### Option ${i + 1}\n\n${w.paragraph(2, 5)}`,
  );
  const body = [
    `# ${title}`,
    `## Context\n\n${w.paragraphs(1, 3)}`,
    `## Options`,
    ...options,
    `## Decision\n\n${w.paragraph(2, 5)}`,
    `## Consequences\n\n${w.bullets(2, 6)}`,
  ];
  const fields: Fields = {
    type: 'decision',
    title,
    date,
    status: w.random.pick(['accepted', 'proposed', 'superseded']),
    tags: pickTags(w, 1, 2),
    'review-by': w.random.chance(0.3) ? w.date() : undefined,
  };
  return finish(w, `memory/decisions/${date.slice(0, 7)}-${w.slug(title)}.md`, 'decision', fields, body);
}

function task(w: TextWriter): GeneratedNote {
  const title = `${capitalize(w.topic())} ${w.topic()} for ${w.random.pick(w.vocabulary.companies)}`;
  const body = [
    `# ${title}`,
    w.paragraph(1, 4),
    `## Steps\n\n${w.tasks(2, 8)}`,
    ...sections(w, 0, 2, ['Log', 'Notes', 'Blockers']),
  ];
  if (w.random.chance(0.15)) body.push(`## Snippet\n\n${w.codeBlock()}`);
  const fields: Fields = {
    type: 'task',
    title,
    status: w.random.pick(['open', 'done', 'blocked', 'waiting']),
    owner: w.random.pick(w.vocabulary.people),
    due: w.date(),
    date: w.date(),
    tags: pickTags(w, 0, 2),
  };
  return finish(w, `memory/tasks/${w.slug(title)}.md`, 'task', fields, body);
}

function person(w: TextWriter): GeneratedNote {
  const name = w.random.pick(w.vocabulary.people);
  const company = w.random.pick(w.vocabulary.companies);
  const body = [
    `# ${name}`,
    `${capitalize(w.word())} at ${company}. ${w.paragraph(1, 3)}`,
    `## Background\n\n${w.paragraphs(1, 2)}`,
    ...sections(w, 1, 4, ['Notes', 'History', 'Preferences', 'Projects', 'Contact']),
  ];
  const fields: Fields = {
    type: 'person',
    title: name,
    company,
    role: `${capitalize(w.topic())} ${w.topic()}`,
    tags: pickTags(w, 0, 2),
    date: w.date(),
  };
  return finish(w, `memory/people/${w.slug(name)}.md`, 'person', fields, body);
}

function note(w: TextWriter): GeneratedNote {
  const title = `${capitalize(w.topic())} ${w.topic()} ${w.topic()}`;
  const body = [`# ${title}`, w.paragraphs(1, 2)];
  for (let i = w.random.int(2, 6); i > 0; i--) {
    const heading = `## ${capitalize(w.topic())} ${w.topic()}`;
    const extra = w.random.chance(0.35)
      ? `\n\n${w.codeBlock()}`
      : w.random.chance(0.2)
        ? `\n\n${w.table(['Name', 'Value', 'When'], w.random.int(2, 6))}`
        : '';
    body.push(`${heading}\n\n${w.paragraphs(1, 3)}${extra}`);
  }
  const fields: Fields = { type: 'note', title, tags: pickTags(w, 0, 3), date: w.date() };
  return finish(w, `memory/notes/${w.slug(title)}.md`, 'note', fields, body);
}

/** `count` optional sections with headings from `names`, each a few paragraphs or a list. */
function sections(w: TextWriter, min: number, max: number, names: string[]): string[] {
  return w.random.sample(names, w.random.int(min, max)).map((name) => {
    const content = w.random.chance(0.3) ? w.bullets(2, 8) : w.paragraphs(1, 3);
    return `## ${name}\n\n${content}`;
  });
}

function people(w: TextWriter, min: number, max: number): string {
  return w.random
    .sample(w.vocabulary.people, w.random.int(min, max))
    .map((p) => `- ${p}, ${w.word()} ${w.word()}`)
    .join('\n');
}

function pickTags(w: TextWriter, min: number, max: number): string[] {
  return w.random.sample(w.vocabulary.tags, w.random.int(min, max));
}

function finish(w: TextWriter, path: string, type: NoteType, fields: Fields, body: string[]): GeneratedNote {
  const tags = Array.isArray(fields.tags) ? fields.tags : [];
  const date = typeof fields.date === 'string' ? fields.date : w.date();
  const content = `${frontmatter(fields)}\n${body.join('\n\n')}\n`;
  return { path, type, tags, date, content };
}

function frontmatter(fields: Fields): string {
  const lines = ['---'];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) lines.push(`${key}: [${value.map(yamlScalar).join(', ')}]`);
    } else {
      lines.push(`${key}: ${yamlScalar(value)}`);
    }
  }
  lines.push('---');
  return lines.join('\n');
}

/** Plain where YAML allows it, double-quoted otherwise, as people write frontmatter. */
function yamlScalar(value: string): string {
  return /^[\w][\w .-]*$/.test(value) && !/^(true|false|null|yes|no|\d[\d.]*)$/i.test(value)
    ? value
    : JSON.stringify(value);
}
