/**
 * Searches under steady saves: 32 clients, each on its own socket connection, search one after
 * another for a while with nothing written (the floor), then as long again while a writer saves
 * ~10 notes a second (new notes and edits, each carrying a word found nowhere else). The same
 * clients and queries both times, so the ratio of the two p99s is what the writes cost searches.
 * Each save is followed by `keel/index/refresh` of its note on the writer's own connection: its
 * answer says every search from then on finds the note (save to searchable). A poller also asks
 * for every unseen word at once (one full-text query), as a client searching for it would; the
 * daemon's open files are sampled from /proc throughout.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IndexRefreshRequest, MemorySearchRequest } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { sleep, type DaemonProcess } from '../daemonProcess';
import { FdSampler } from '../procStats';
import { round, summarize, type Summary } from '../stats';
import type { NoteEntry } from '../workload/generate';
import type { BenchQuery } from '../workload/queries';
import { Random } from '../workload/random';
import { ask } from './search';

export interface LoadFigures {
  seconds: number;
  searches: number;
  searchesPerSecond: number;
  /** Round trip over the socket, as each client sees it (queueing in the daemon included). */
  socket: Summary;
  /** Inside the daemon (`tookMs`). */
  daemon: Summary;
  errors: number;
  /** Open file descriptors of the daemon: the most sampled during the phase, and at its end. */
  maxOpenFiles: number;
  openFilesAtEnd: number;
}

export interface ConcurrencyResult {
  clients: number;
  idle: LoadFigures;
  writes: LoadFigures & { saves: number; savesPerSecond: number };
  /**
   * Save to searchable while the clients search: until `keel/index/refresh` of the note, sent right
   * after the save, answered (from then on every search finds it; refreshes that failed counted).
   */
  saveToIndexed: Summary & { failures: number };
  /**
   * Until the poller's first search that found the note was sent. The poller asks only for notes
   * saved before it sent its search, which waits for a turn behind the clients' (one socket round
   * trip under this load, 1-3 s here), so this adds up to one such wait to the time to searchable...
   */
  saveToSearchable: Summary & { timeouts: number };
  /** ...and until that search's answer arrived (which adds a search's own wait under this load). */
  saveToAnswer: Summary;
  /** p99 over the socket with the writer, divided by p99 without it (the floor, same run). */
  p99Ratio: number;
  throughputRatio: number;
  openFilesBefore: number;
  openFilesAfter: number;
}

export interface ConcurrencyOptions {
  workspace: string;
  entries: NoteEntry[];
  queries: BenchQuery[];
  seed: number;
  clients: number;
  /** Length of each of the two phases. */
  seconds: number;
  savesPerSecond?: number;
  /** After a phase, how long a save may still take to become searchable. */
  timeoutMs?: number;
  /** Called between the phases and at the end, to record the machine's load per phase. */
  onPhase: (name: 'idle' | 'writes' | null) => void;
}

const WARMUP_MS = 2_000;
const POLL_MS = 20;
/** The daemon optimizes 5 s after the last write (memoryService.ts): long enough to see it start. */
const OPTIMIZE_PLANNED_MS = 6_000;
const OPTIMIZE_SETTLE_MS = 180_000;

export async function measureConcurrency(
  daemon: DaemonProcess,
  options: ConcurrencyOptions,
): Promise<ConcurrencyResult> {
  const clients = await Promise.all(Array.from({ length: options.clients }, () => daemon.connect()));
  const fds = new FdSampler(daemon.pid);
  try {
    await optimizationsSettled(daemon);
    await searchFor(clients, options.queries, WARMUP_MS, 0);
    options.onPhase(null); // the warm-up's load is not part of either phase
    const openFilesBefore = fds.sample();
    fds.reset();
    const idle = await loadPhase(clients, options, fds, () => Promise.resolve());
    options.onPhase('idle');
    fds.reset();
    const saves = new SaveWriter(options, daemon);
    let writes: LoadFigures | null = null;
    try {
      writes = await loadPhase(clients, options, fds, (until) => saves.run(until));
    } finally {
      await saves.drain(options.timeoutMs ?? 10_000);
    }
    options.onPhase('writes');
    const { searchable, answered, indexed } = saves.latencies();
    return {
      clients: options.clients,
      idle,
      writes: { ...writes, saves: saves.count, savesPerSecond: round(saves.count / options.seconds, 1) },
      saveToIndexed: { ...summarize(indexed), failures: saves.refreshFailures },
      saveToSearchable: { ...summarize(searchable), timeouts: saves.timeouts },
      saveToAnswer: summarize(answered),
      p99Ratio: round(writes.socket.p99Ms / Math.max(1, idle.socket.p99Ms), 2),
      throughputRatio: round(writes.searchesPerSecond / Math.max(0.01, idle.searchesPerSecond), 2),
      openFilesBefore,
      openFilesAfter: fds.sample(),
    };
  } finally {
    fds.stop();
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
}

/**
 * Waits until no optimization of the index is running (at most OPTIMIZE_SETTLE_MS): one planned
 * after the cold index or the saves before rewrites the whole table for up to a minute on a busy
 * 2-core machine, and the idle phase, the floor of the ratio, would be measured beside it.
 */
async function optimizationsSettled(daemon: DaemonProcess): Promise<void> {
  const deadline = performance.now() + OPTIMIZE_SETTLE_MS;
  await sleep(OPTIMIZE_PLANNED_MS);
  const count = (text: string): number => daemon.lines.filter((l) => l.text.includes(text)).length;
  while (performance.now() < deadline) {
    const ended = count('optimized the search index') + count('optimizing the search index failed');
    if (count('optimization of the search index started') <= ended) return;
    await sleep(100);
  }
}

/** One phase: every client searching for `seconds` while `background` runs alongside. */
async function loadPhase(
  clients: SocketClient[],
  options: ConcurrencyOptions,
  fds: FdSampler,
  background: (until: number) => Promise<void>,
): Promise<LoadFigures> {
  const started = performance.now();
  const until = started + options.seconds * 1000;
  const [samples] = await Promise.all([
    searchFor(clients, options.queries, options.seconds * 1000, 1),
    background(until),
  ]);
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds: round(seconds, 1),
    searches: samples.socket.length,
    searchesPerSecond: round(samples.socket.length / seconds, 1),
    socket: summarize(samples.socket),
    daemon: summarize(samples.daemon),
    errors: samples.errors,
    maxOpenFiles: fds.max,
    openFilesAtEnd: fds.sample(),
  };
}

async function searchFor(
  clients: SocketClient[],
  queries: BenchQuery[],
  ms: number,
  offset: number,
): Promise<{ socket: number[]; daemon: number[]; errors: number }> {
  const until = performance.now() + ms;
  const socket: number[] = [];
  const inside: number[] = [];
  let errors = 0;
  await Promise.all(
    clients.map(async (client, c) => {
      // Each client walks the query set from its own place, so they do not ask the same thing.
      for (let i = c * 7 + offset; performance.now() < until; i++) {
        const query = queries[i % queries.length]!;
        const sent = performance.now();
        try {
          const answer = await ask(client, query);
          socket.push(performance.now() - sent);
          inside.push(answer.tookMs);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { socket, daemon: inside, errors };
}

/**
 * Saves a note every 1/savesPerSecond s (new notes and appends to existing ones, alternately),
 * each with a nonce; one poller searches all unseen nonces at once, back to back, and records
 * when each appears.
 */
class SaveWriter {
  count = 0;
  timeouts = 0;
  refreshFailures = 0;
  private readonly random: Random;
  private readonly pending = new Map<string, number>();
  private readonly found: { searchable: number; answered: number }[] = [];
  private poller: SocketClient | null = null;
  /** The writer's own connection, for the refresh after each save. */
  private refresher: SocketClient | null = null;
  private readonly refreshes = new Set<Promise<void>>();
  /** Save to the refresh's answer, per save. */
  private readonly indexed: number[] = [];
  private polling: Promise<void> | null = null;
  private stopPolling = false;

  constructor(
    private readonly options: ConcurrencyOptions,
    private readonly daemon: DaemonProcess,
  ) {
    this.random = new Random(options.seed).fork('concurrency');
  }

  async run(until: number): Promise<void> {
    const { workspace } = this.options;
    const every = 1000 / (this.options.savesPerSecond ?? 10);
    await mkdir(join(workspace, 'memory', 'inbox'), { recursive: true });
    this.refresher = await this.daemon.connect();
    this.polling = this.poll();
    let next = performance.now();
    while (performance.now() < until) {
      const i = this.count++;
      const nonce = `keelload${i}${this.random.int(0, 36 ** 5).toString(36)}`;
      this.pending.set(nonce, performance.now());
      const at = performance.now();
      let path: string;
      if (i % 2 === 1) {
        path = this.random.pick(this.options.entries).path;
        await appendFile(join(workspace, path), `\nUpdate: talked about ${nonce} today.\n`);
      } else {
        path = `memory/inbox/load-${i}.md`;
        await writeFile(join(workspace, path), note(nonce, i));
      }
      this.refresh(path, at);
      next += every;
      await sleep(Math.max(0, next - performance.now()));
    }
  }

  /** Asks the daemon to refresh `path` and records when it answered, without holding up the saves. */
  private refresh(path: string, at: number): void {
    const done = this.refresher!.request(IndexRefreshRequest, { paths: [path] }).then(
      () => void this.indexed.push(performance.now() - at),
      () => void this.refreshFailures++,
    );
    this.refreshes.add(done);
    void done.finally(() => this.refreshes.delete(done));
  }

  /** Waits for the saves still unseen, up to `timeoutMs`; what is left counts as timed out. */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all(this.refreshes);
    await this.refresher?.close().catch(() => undefined);
    const deadline = performance.now() + timeoutMs;
    while (this.pending.size > 0 && performance.now() < deadline) await sleep(POLL_MS);
    this.stopPolling = true;
    await this.polling;
    for (const [, at] of this.pending) {
      const ms = performance.now() - at;
      this.found.push({ searchable: ms, answered: ms });
      this.timeouts++;
    }
    this.pending.clear();
  }

  latencies(): { searchable: number[]; answered: number[]; indexed: number[] } {
    return {
      indexed: this.indexed,
      searchable: this.found.map((f) => f.searchable),
      answered: this.found.map((f) => f.answered),
    };
  }

  private async poll(): Promise<void> {
    for (;;) {
      if (this.stopPolling) break;
      const nonces = [...this.pending.keys()].slice(0, 100);
      if (nonces.length === 0) {
        await sleep(POLL_MS);
        continue;
      }
      this.poller ??= await this.daemon.connect();
      const sent = performance.now();
      const answer = await this.poller.request(MemorySearchRequest, {
        query: nonces.join(' '),
        k: Math.min(200, nonces.length * 2 + 10),
        mode: 'text',
      });
      const now = performance.now();
      for (const nonce of nonces) {
        if (answer.results.some((r) => r.text.includes(nonce))) {
          const at = this.pending.get(nonce)!;
          this.found.push({ searchable: sent - at, answered: now - at });
          this.pending.delete(nonce);
        }
      }
    }
    await this.poller?.close().catch(() => undefined);
  }
}

function note(nonce: string, i: number): string {
  return [
    '---',
    'type: note',
    `title: Load note ${i}`,
    'tags: [inbox]',
    '---',
    `# Load note ${i}`,
    '',
    `Follow up on the ${nonce} proposal next week; the renewal terms are still open.`,
    '',
  ].join('\n');
}
