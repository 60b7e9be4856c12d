/**
 * Save to searchable: with the daemon serving the full index, a note is saved with a word found
 * nowhere else (a nonce), and search is polled for it every few milliseconds until an answer's
 * text contains it. Saves alternate between a new note and an edit of an existing one (which
 * replaces all of its chunks), ~100 ms apart, as a person typing and saving would.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemorySearchRequest } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { sleep } from '../daemonProcess';
import { summarize, type Summary } from '../stats';
import type { NoteEntry } from '../workload/generate';
import { Random } from '../workload/random';

export interface SaveResult {
  saves: number;
  latency: Summary;
  newNotes: Summary;
  edits: Summary;
  /** Saves not found within the timeout (counted in the latencies at the timeout). */
  timeouts: number;
  /** Saves not attempted because the previous ones kept timing out (the indexer is stuck). */
  skipped: number;
  /** Search requests sent while polling (each competes with the indexer for the CPU). */
  polls: number;
  /** Every save in order, to see where the slow ones fall (periodic upkeep shows as a pattern). */
  series: { edit: boolean; ms: number }[];
}

export interface SaveOptions {
  workspace: string;
  entries: NoteEntry[];
  saves: number;
  seed: number;
  pollMs?: number;
  spacingMs?: number;
  timeoutMs?: number;
}

/** Three saves in a row never found: the rest would only add their timeouts to the run. */
const GIVE_UP_AFTER_TIMEOUTS = 3;

export async function measureSaveToSearchable(
  client: SocketClient,
  options: SaveOptions,
): Promise<SaveResult> {
  const random = new Random(options.seed).fork('saves');
  let consecutiveTimeouts = 0;
  const latencies: { edit: boolean; ms: number }[] = [];
  let timeouts = 0;
  let polls = 0;
  await mkdir(join(options.workspace, 'memory', 'inbox'), { recursive: true });
  for (let i = 0; i < options.saves && consecutiveTimeouts < GIVE_UP_AFTER_TIMEOUTS; i++) {
    const nonce = `keelnonce${i}${random.int(0, 36 ** 5).toString(36)}`;
    const edit = i % 2 === 1;
    const started = performance.now();
    if (edit) {
      const entry = random.pick(options.entries);
      await appendFile(join(options.workspace, entry.path), `\nUpdate: talked about ${nonce} today.\n`);
    } else {
      await writeFile(join(options.workspace, 'memory', 'inbox', `save-${i}.md`), newNote(nonce, i));
    }
    const found = await pollUntilFound(client, nonce, started, options);
    polls += found.polls;
    if (!found.ok) timeouts++;
    consecutiveTimeouts = found.ok ? 0 : consecutiveTimeouts + 1;
    latencies.push({ edit, ms: found.ms });
    await sleep(options.spacingMs ?? 100);
  }
  return {
    saves: latencies.length,
    latency: summarize(latencies.map((l) => l.ms)),
    newNotes: summarize(latencies.filter((l) => !l.edit).map((l) => l.ms)),
    edits: summarize(latencies.filter((l) => l.edit).map((l) => l.ms)),
    timeouts,
    skipped: options.saves - latencies.length,
    polls,
    series: latencies.map((l) => ({ edit: l.edit, ms: Math.round(l.ms) })),
  };
}

async function pollUntilFound(
  client: SocketClient,
  nonce: string,
  started: number,
  options: SaveOptions,
): Promise<{ ok: boolean; ms: number; polls: number }> {
  const deadline = started + (options.timeoutMs ?? 10_000);
  let polls = 0;
  for (;;) {
    polls++;
    const answer = await client.request(MemorySearchRequest, { query: nonce, k: 10 });
    const now = performance.now();
    if (answer.results.some((r) => r.text.includes(nonce))) return { ok: true, ms: now - started, polls };
    if (now > deadline) return { ok: false, ms: now - started, polls };
    await sleep(options.pollMs ?? 5);
  }
}

function newNote(nonce: string, i: number): string {
  return [
    '---',
    'type: note',
    `title: Quick note ${i}`,
    'tags: [inbox]',
    '---',
    `# Quick note ${i}`,
    '',
    `Call back about the ${nonce} proposal before Friday; the renewal terms are still open.`,
    '',
  ].join('\n');
}
