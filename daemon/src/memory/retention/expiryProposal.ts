/**
 * One day's expiry as one proposal: an archived note is deleted from working memory and created
 * at the same relative path under `<memory>/archive/` (with the day in its name when an earlier
 * archive holds that path: an archive is never overwritten); a deleted one is deleted; summarised ones
 * become one durable note (a plain excerpt of each: no model step writes it yet, and the note says
 * so) and are deleted. The operator reviews it like any other diff.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ExpiredNote } from './expiryPlan';

export interface ExpiryProposal {
  summary: string;
  reasoning: string;
  changes: { path: string; content: string | null }[];
  /** Some note is not provably Keel's own: the operator decides, whatever the rules say. */
  askOperator: boolean;
}

const EXCERPT_CHARS = 600;

export function expiryProposal(
  notes: readonly ExpiredNote[],
  memoryDir: string,
  day: string,
  /** Whether a path already exists in the workspace (an earlier archive). */
  exists: (path: string) => boolean,
): ExpiryProposal {
  const changes: ExpiryProposal['changes'] = [];
  const taken = (path: string): boolean => exists(path) || changes.some((c) => c.path === path);
  for (const note of notes) {
    changes.push({ path: note.path, content: null });
    if (note.then === 'archive') {
      changes.push({ path: archivePath(note.path, memoryDir, day, taken), content: note.content });
    }
  }
  const summarised = notes.filter((n) => n.then === 'summarise');
  if (summarised.length > 0) {
    changes.push({ path: `${memoryDir}/summaries/working-${day}.md`, content: summaryNote(summarised, day) });
  }
  const count = (then: ExpiredNote['then']): number => notes.filter((n) => n.then === then).length;
  const operators = notes.filter((n) => !n.keelOwned);
  const reasoning = [
    `Working memory that expired by ${day} (keel.yaml memory.retention):`,
    ...notes.map((n) => `- ${n.path}: ${n.then} (expired ${n.expires.slice(0, 10)})`),
    ...(operators.length > 0
      ? [
          '',
          'These are not provably written by Keel, so this proposal waits for your decision:',
          ...operators.map((n) => `- ${n.path}: ${n.operatorReason}`),
        ]
      : []),
    ...(summarised.length > 0
      ? ['', 'No model step wrote the summary: it is a plain excerpt of each note. Edit it before approving.']
      : []),
  ].join('\n');
  return {
    summary: `Expire working memory (${day}): ${count('archive')} archived, ${count('summarise')} summarised, ${count('delete')} deleted`,
    reasoning,
    changes,
    askOperator: operators.length > 0,
  };
}

/**
 * `memory/working/a/b.md` -> `memory/archive/working/a/b.md`; when that is taken (a note of the same
 * path archived before), `b.<day>.md`, then `b.<day>-2.md`, ...: both archives are kept.
 */
export function archivePath(
  path: string,
  memoryDir: string,
  day: string,
  taken: (path: string) => boolean,
): string {
  const plain = `${memoryDir}/archive/${path.slice(memoryDir.length + 1)}`;
  if (!taken(plain)) return plain;
  const slash = plain.lastIndexOf('/');
  const dot = plain.lastIndexOf('.');
  const [stem, extension] = dot > slash ? [plain.slice(0, dot), plain.slice(dot)] : [plain, ''];
  for (let n = 1; ; n++) {
    const candidate = `${stem}.${day}${n === 1 ? '' : `-${n}`}${extension}`;
    if (!taken(candidate)) return candidate;
  }
}

/** The archive paths `notes` could take that already exist (an entry of any kind), for expiryProposal. */
export async function existingArchives(
  workspace: string,
  notes: readonly ExpiredNote[],
  memoryDir: string,
): Promise<Set<string>> {
  const folders = new Set(
    notes
      .filter((n) => n.then === 'archive')
      .map((n) => dirname(`${memoryDir}/archive/${n.path.slice(memoryDir.length + 1)}`)),
  );
  const existing = new Set<string>();
  for (const folder of folders) {
    const names = await readdir(join(workspace, folder)).catch(() => []);
    for (const name of names) existing.add(`${folder}/${name}`);
  }
  return existing;
}

function summaryNote(notes: readonly ExpiredNote[], day: string): string {
  const sections = notes.map((note) => {
    const body = note.content.replace(/^---\n[\s\S]*?\n---\n/, '').trim();
    const excerpt = body.length > EXCERPT_CHARS ? `${body.slice(0, EXCERPT_CHARS)}…` : body;
    // Quoted: a note's own headings never become this note's structure.
    return [`## ${note.path}`, '', ...excerpt.split('\n').map((line) => `> ${line}`.trimEnd())].join('\n');
  });
  return [
    '---',
    'type: summary',
    `created: ${day}`,
    `summarises: ${JSON.stringify(notes.map((n) => n.path))}`,
    '---',
    `# Working memory summarised on ${day}`,
    '',
    'No model step wrote this summary: it is a plain excerpt of each expired note.',
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
}
