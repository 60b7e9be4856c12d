/**
 * Which notes of working memory have expired, and whose they are. A note is considered when its
 * frontmatter says Keel wrote it (`source: { run }`) or it says when it `expires`; it counts as
 * Keel's own (so keel.yaml's approval rules may decide for it) only when git shows Keel's commit of
 * that same run CREATED the file, Keel's commit of that run last changed it, and it is unchanged
 * since. `source:` alone proves nothing: a model's proposal or an edit can add it to an operator's
 * note. Everything else (the operator's notes, a forged `source:`, a workspace without git) waits
 * for the operator's decision. Git is asked once for all the day's notes, after the cap.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { durationMs, type RetentionRule } from '@keel/schemas';
import { readInsideText } from '../../files/workspacePaths';
import { fileOrigins, type FileOrigin } from '../../workspace/git';
import { splitFrontmatter } from '../parse/frontmatter';
import { retentionRuleFor } from './workingStamp';

/** Notes in one day's proposal at most: more wait for the next day (a bounded diff to review). */
export const MAX_NOTES_PER_DAY = 200;

export interface ExpiredNote {
  path: string;
  then: RetentionRule['then'];
  /** When it expired (ISO). */
  expires: string;
  /** Keel wrote it and nobody changed it since: the approval rules may decide. */
  keelOwned: boolean;
  /** Why it is the operator's to decide, when it is. */
  operatorReason: string | null;
  content: string;
}

/** The expired notes under the retention rules' paths, oldest expiry first, at most MAX_NOTES_PER_DAY. */
export async function expiredNotes(options: {
  workspace: string;
  memoryDir: string;
  rules: readonly RetentionRule[];
  now: Date;
  /** Paths already in a proposal waiting for a decision: not proposed twice. */
  waiting: ReadonlySet<string>;
}): Promise<ExpiredNote[]> {
  const found: ExpiredCandidate[] = [];
  for (const path of await memoryFiles(options.workspace, options.memoryDir)) {
    if (options.waiting.has(path)) continue;
    const rule = retentionRuleFor(path, options.rules);
    if (!rule) continue;
    const note = await expiredCandidate(options.workspace, path, rule, options.now);
    if (note) found.push(note);
  }
  const today = found.sort((a, b) => a.expires.localeCompare(b.expires)).slice(0, MAX_NOTES_PER_DAY);
  const origins = await fileOrigins(
    options.workspace,
    today.map((n) => n.path),
  );
  return today.map(({ run, ...note }) => {
    const operatorReason = whyOperators(origins.get(note.path), run);
    return { ...note, keelOwned: operatorReason === null, operatorReason };
  });
}

/** An expired note before git is asked whose it is, with the run its `source:` claims. */
type ExpiredCandidate = Omit<ExpiredNote, 'keelOwned' | 'operatorReason'> & { run: string | null };

async function expiredCandidate(
  workspace: string,
  path: string,
  rule: RetentionRule,
  now: Date,
): Promise<ExpiredCandidate | null> {
  const content = await readInsideText(workspace, path).catch(() => null);
  if (content === null) return null;
  const front = frontmatterOf(content);
  const source = front.source as { run?: unknown } | undefined;
  const run =
    typeof source === 'object' && source !== null && typeof source.run === 'string' ? source.run : null;
  const expires = expiryOf(front, rule);
  if ((run === null && typeof front.expires !== 'string') || expires === null) return null;
  if (expires > now.getTime()) return null;
  return { path, then: rule.then, expires: new Date(expires).toISOString(), content, run };
}

/** Null when the note is Keel's own; else why the operator decides. */
function whyOperators(origin: FileOrigin | undefined, run: string | null): string | null {
  if (run === null) return 'it says no source: the operator wrote it';
  if (!origin) return 'git has no commit of it, so nothing shows Keel wrote it';
  if (!origin.created?.keelRuns.includes(run)) {
    const by = origin.created ? ` (${origin.created.commit.slice(0, 10)})` : '';
    return `the commit that created it${by} is not Keel's commit of run ${run}: its source: does not make it Keel's`;
  }
  if (!origin.last.keelRuns.includes(run)) {
    return `its last commit (${origin.last.commit.slice(0, 10)}) is not Keel's commit of run ${run}`;
  }
  if (origin.editedSince) return 'it was edited since Keel committed it';
  return null;
}

/** The note's expiry in ms: its own `expires`, else `created` plus the rule's `after`. */
function expiryOf(front: Record<string, unknown>, rule: RetentionRule): number | null {
  const own = dateOf(front.expires);
  if (own !== null) return own;
  const created = dateOf(front.created);
  return created === null ? null : created + durationMs(rule.after);
}

function dateOf(value: unknown): number | null {
  const time = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(time) ? null : time;
}

function frontmatterOf(content: string): Record<string, unknown> {
  const { yaml } = splitFrontmatter(content);
  if (yaml === null) return {};
  try {
    const value: unknown = parse(yaml);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/**
 * Regular files under the memory folder, workspace-relative, the archive left out. Links are
 * never followed nor listed: a link in working memory is not a note Keel moves or deletes.
 */
async function memoryFiles(workspace: string, memoryDir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(workspace, relative), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory() && path !== `${memoryDir}/archive`) await walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk(memoryDir);
  return files.sort();
}
