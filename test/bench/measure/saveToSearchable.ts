/**
 * Save to searchable: with the daemon serving the full index, a note is saved with a word found
 * nowhere else (a nonce), and searched for every millisecond until an answer's text contains it;
 * the time runs until the first search that found it began in the daemon (`pollUntilFound`).
 * Saves alternate between a new note and an edit of an existing one (which replaces all of its
 * chunks), ~100 ms apart, as a person typing and saving would. After each save the floor
 * (saveFloor.ts) is measured once in this process, so that the two see the same machine load and
 * Keel's figures can be read as ratios to it.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MemorySearchRequest } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { sleep } from '../daemonProcess';
import { percentile, round, summarize, type Summary } from '../stats';
import type { NoteEntry } from '../workload/generate';
import { Random } from '../workload/random';
import { SaveFloor } from './saveFloor';

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
  /** The floor (event + read + embed + one LanceDB add), measured after each save. */
  floor: Summary;
  /** Keel's figure over the floor's: p50 over p50, p99 over p99. */
  floorRatio: { p50: number; p99: number };
  /** Each save over the floor measured right after it: the median, and the 10th-90th percentiles. */
  pairedRatio: { median: number; p10: number; p90: number };
}

export interface SaveOptions {
  workspace: string;
  entries: NoteEntry[];
  saves: number;
  seed: number;
  pollMs?: number;
  spacingMs?: number;
  timeoutMs?: number;
  /** A scratch folder for the floor's note and table (created, then removed). */
  floorDir: string;
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
  const floors: number[] = [];
  await mkdir(join(options.workspace, 'memory', 'inbox'), { recursive: true });
  const floor = await SaveFloor.open(options.floorDir);
  try {
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
      floors.push(await floor.measure(`floor-${i}.md`, newNote(nonce, i)));
      await sleep(options.spacingMs ?? 100);
    }
  } finally {
    await floor.close();
  }
  const latency = summarize(latencies.map((l) => l.ms));
  const floorSummary = summarize(floors);
  const paired = latencies.map((l, i) => l.ms / floors[i]!).sort((a, b) => a - b);
  return {
    saves: latencies.length,
    latency,
    newNotes: summarize(latencies.filter((l) => !l.edit).map((l) => l.ms)),
    edits: summarize(latencies.filter((l) => l.edit).map((l) => l.ms)),
    timeouts,
    skipped: options.saves - latencies.length,
    polls,
    series: latencies.map((l) => ({ edit: l.edit, ms: Math.round(l.ms) })),
    floor: floorSummary,
    floorRatio: {
      p50: round(latency.p50Ms / floorSummary.p50Ms),
      p99: round(latency.p99Ms / floorSummary.p99Ms),
    },
    pairedRatio: {
      median: round(percentile(paired, 50)),
      p10: round(percentile(paired, 10)),
      p90: round(percentile(paired, 90)),
    },
  };
}

/**
 * The daemon answers two searches at once (one per core; more wait in its queue, where the time a
 * search spent there would count as search time below).
 */
const POLLS_IN_FLIGHT = 2;

/**
 * Searches for `nonce` until an answer holds it, and says when the note became searchable: when
 * the first search that found it began in the daemon (its answer's arrival less the `tookMs` it
 * spent there), from `started`. Searches go out on a schedule, one every `pollMs` (1 ms) from
 * `started`, POLLS_IN_FLIGHT at most, and a search sent before the note was searchable may come
 * back after. Its resolution is what two searches in flight allow: while the daemon reads and
 * writes the save, one text search takes 5-10 ms here. Polling one search at a time, 5 ms apart,
 * added a pause to that: every save took exactly two polls.
 */
export async function pollUntilFound(
  client: SocketClient,
  nonce: string,
  started: number,
  options: Pick<SaveOptions, 'pollMs' | 'timeoutMs'>,
): Promise<{ ok: boolean; ms: number; polls: number }> {
  const every = options.pollMs ?? 1;
  const deadline = started + (options.timeoutMs ?? 10_000);
  let polls = 0;
  let foundAt: number | null = null;
  const inFlight = new Set<Promise<void>>();
  const poll = async (): Promise<void> => {
    // Full-text only, as the concurrency phase polls: a hybrid search takes several times as long.
    const answer = await client.request(MemorySearchRequest, { query: nonce, k: 10, mode: 'text' });
    const began = performance.now() - answer.tookMs;
    if (answer.results.some((r) => r.text.includes(nonce)) && (foundAt === null || began < foundAt))
      foundAt = began;
  };
  for (let next = started; foundAt === null && performance.now() <= deadline;) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    while (inFlight.size >= POLLS_IN_FLIGHT) await Promise.race(inFlight);
    if (foundAt !== null) break;
    polls++;
    const sent = poll().finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    next = Math.max(next + every, performance.now());
  }
  await Promise.all(inFlight);
  if (foundAt === null) return { ok: false, ms: performance.now() - started, polls };
  return { ok: true, ms: Math.max(0, foundAt - started), polls };
}

export function newNote(nonce: string, i: number): string {
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
