/**
 * Traces are memory: finished runs indexed as documents of their own kind (`run:<id>`), searched
 * beside the notes when a search asks for `kind: run` or `any`.
 *
 * All indexing happens off the save and search paths: a run's end only queues its id, and a
 * background tick takes a few queued runs at a time (read the journal, build the scrubbed
 * document, embed, write). At start the journals are compared with the table (catch-up): runs
 * that ended while nothing indexed them are queued, rows whose journal is gone are removed, and
 * the comparison is repeated every few minutes. A search also drops hits whose journal is gone,
 * so a removed journal never answers a search, even before the next comparison.
 */
import type { SearchFilter, SearchResult } from '@keel/schemas';
import type { JournalRecord } from '../../conductor/journalRecords';
import { keelDir } from '../../files/workspacePaths';
import type { Logger } from '../../log';
import type { Embedder } from '../embed/embedder';
import { fullTextQuery } from '../searchText';
import { FUSION } from '../search';
import { RUN_ID_PREFIX, runDocument, type RunDocument } from './runDocument';
import { RunIndex, runFilterSql, type RunHit } from './runIndex';

/** The journals, as the conductor reads them (sealed, redacted): a narrow port, not the conductor. */
export interface RunJournals {
  /** Ids of every run with a journal. */
  ids(): Promise<string[]>;
  /** Whether the run's journal is still there. */
  has(id: string): Promise<boolean>;
  /** The run's records, and the conductor's redaction (every credential it knows -> `[redacted]`). */
  read(id: string): Promise<{ records: JournalRecord[]; redact: (text: string) => string }>;
}

/** Runs indexed per tick, in one write: the work one tick holds the thread for stays small. */
const RUNS_PER_TICK = 32;
/**
 * The pause before a tick while runs are queued: runs that end meanwhile are written together
 * (under load a run ends every few milliseconds; each LanceDB write costs a version and a fragment).
 */
const TICK_MS = 500;
/** How often the journals are compared with the table again (a journal removed by hand, say). */
const RECONCILE_MS = 5 * 60_000;

export class RunMemory {
  private readonly queue = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private working: Promise<void> | null = null;
  /** The comparison with the journals under way: one at a time, and close waits for it. */
  private reconciling: Promise<void> | null = null;
  private closed = false;
  private journals: RunJournals | null = null;
  /** Settles once the first comparison with the journals has queued what was behind. */
  private caughtUp: Promise<void> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];

  private constructor(
    private readonly index: RunIndex,
    private readonly embedder: Embedder,
    private readonly log: Logger,
  ) {}

  static async open(root: string, embedder: Embedder, log: Logger): Promise<RunMemory> {
    const index = await RunIndex.open(await keelDir(root, 'runmem'), embedder.dimensions, log);
    return new RunMemory(index, embedder, log);
  }

  /** Starts indexing from these journals: catches up now, and compares again every few minutes. */
  use(journals: RunJournals): void {
    // Closed is final: no timer starts again, nothing touches the closed index.
    if (this.closed) return;
    this.journals = journals;
    this.caughtUp = this.reconcile();
    this.reconcileTimer ??= setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.reconcileTimer.unref();
  }

  /** A run ended: it is indexed in the background (its document replaces any older one). */
  ended(runId: string): void {
    if (this.closed) return;
    this.queue.add(runId);
    this.schedule();
  }

  /** Resolves once nothing is queued (the catch-up included). For tests and `keel` in-process. */
  async idle(): Promise<void> {
    await this.caughtUp;
    if (this.queue.size === 0 && !this.working) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** The runs best matching the query, as search results of kind `run`, best first. */
  async search(
    query: string,
    k: number,
    filter: SearchFilter | undefined,
    now: Date,
  ): Promise<SearchResult[]> {
    if (filter && (filter.type !== undefined || filter.tags || filter.path || filter.pathPrefix)) return [];
    const where = runFilterSql(filter, now);
    const depth = FUSION.depth(k);
    const [vectorHits, textHits] = await Promise.all([
      this.embedder.embedQuery(query).then((vector) => this.index.vectorSearch(vector, depth, where)),
      this.index.textSearch(fullTextQuery(query), depth, where),
    ]);
    const fused = new Map<string, RunHit>();
    for (const [hits, weight] of [
      [textHits, 1 - FUSION.vectorWeight],
      [vectorHits, FUSION.vectorWeight],
    ] as const) {
      for (const [hit, normalised] of minMax(hits)) {
        const entry = fused.get(hit.row.runId) ?? { row: hit.row, score: 0 };
        entry.score += weight * normalised;
        fused.set(hit.row.runId, entry);
      }
    }
    const ranked = [...fused.values()].sort((a, b) => b.score - a.score);
    const results: SearchResult[] = [];
    const gone: string[] = [];
    for (const hit of ranked) {
      if (results.length >= k) break;
      if (this.journals && !(await this.journals.has(hit.row.runId))) {
        gone.push(hit.row.runId);
        continue;
      }
      results.push(runResult(hit));
    }
    if (gone.length > 0) void this.index.remove(gone).catch(() => undefined);
    return results;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.timer = null;
    this.reconcileTimer = null;
    // Nothing more will be indexed: whoever waits for the queue to drain stops waiting.
    for (const resolve of this.idleWaiters.splice(0)) resolve();
    // The index closes only once no tick and no comparison can still use it.
    await Promise.all([this.working, this.reconciling]);
    this.index.close();
  }

  /** Starts a comparison with the journals, or joins the one under way. */
  private reconcile(): Promise<void> {
    this.reconciling ??= this.compare().finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  /** Queues the finished runs missing from the table and removes rows whose journal is gone. */
  private async compare(): Promise<void> {
    const journals = this.journals;
    if (!journals || this.closed) return;
    try {
      const [ids, indexed] = await Promise.all([journals.ids(), this.index.runIds()]);
      // Closing meanwhile: close waits for this comparison, which stops before writing.
      if (this.closed) return;
      const present = new Set(ids);
      await this.index.remove([...indexed].filter((id) => !present.has(id)));
      for (const id of ids) if (!indexed.has(id)) this.queue.add(id);
      this.schedule();
    } catch (error) {
      this.log.warn('comparing run journals with the run index failed', { error });
    }
  }

  private schedule(): void {
    if (this.timer || this.working || this.closed) return;
    if (this.queue.size === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.working = this.tick().finally(() => {
        this.working = null;
        this.schedule();
      });
    }, TICK_MS);
    this.timer.unref();
  }

  /** Indexes up to RUNS_PER_TICK queued runs. A run not ended yet is left for its end to queue. */
  private async tick(): Promise<void> {
    const journals = this.journals;
    if (!journals) return;
    const batch = [...this.queue].slice(0, RUNS_PER_TICK);
    const documents: RunDocument[] = [];
    for (const id of batch) {
      this.queue.delete(id);
      if (this.closed) return;
      try {
        const { records, redact } = await journals.read(id);
        const document = runDocument(records, redact);
        if (document) documents.push(document);
      } catch (error) {
        // A forged or unreadable journal is never indexed; the next comparison tries again.
        this.log.debug('indexing a run for search failed', { run: id, error });
      }
    }
    if (documents.length === 0 || this.closed) return;
    try {
      const vectors = await this.embedder.embedDocuments(documents.map((d) => d.text));
      await this.index.upsert(documents.map((document, i) => ({ document, vector: vectors[i]! })));
    } catch (error) {
      // Left for the next comparison, which queues every run missing from the table.
      this.log.warn('indexing runs for search failed', { runs: documents.length, error });
    }
  }
}

function runResult(hit: RunHit): SearchResult {
  const { row } = hit;
  return {
    kind: 'run',
    runId: row.runId,
    path: `${RUN_ID_PREFIX}${row.runId}`,
    startLine: 1,
    endLine: 1,
    heading: `${row.runbook} · ${row.status}`,
    text: row.text,
    score: hit.score,
    stale: false,
    type: null,
    tags: [],
    date: row.date,
    reviewBy: null,
  };
}

function minMax(hits: RunHit[]): [RunHit, number][] {
  if (hits.length === 0) return [];
  const scores = hits.map((h) => h.score);
  const max = Math.max(...scores);
  const min = Math.min(...scores);
  return hits.map((hit) => [hit, max > min ? (hit.score - min) / (max - min) : 1]);
}
