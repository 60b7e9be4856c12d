/**
 * The analytics of one workspace, as steps use them: rows stored into `.keel/analytics.duckdb`
 * and read-only queries over it and Keel's metrics. One line for both, so a query never attaches
 * the file while a store has it open.
 */
import { join } from 'node:path';
import type { TraceStore } from '../conductor/traceStore';
import { KEEL_DIR } from '../files/workspacePaths';
import { storeRows, type StoreRequest, type StoreResult } from './analyticsStore';
import { metricsTables } from './keelMetrics';
import { runReadOnlyQuery, type QueryRequest, type QueryResult } from './readOnlyQuery';

export const ANALYTICS_FILE = 'analytics.duckdb';

/** What steps are given: the conductor's analytics, or a no-write view of them (a replay). */
export interface AnalyticsPort {
  store(request: StoreRequest): Promise<StoreResult | null>;
  query(request: QueryRequest): Promise<QueryResult>;
}

export class WorkspaceAnalytics implements AnalyticsPort {
  private line: Promise<unknown> = Promise.resolve();

  constructor(
    /** The database file; null: no tables at all (a runbook test reads none of the workspace's). */
    readonly file: string | null,
    /** Where Keel's metrics come from; null: empty `keel.*` tables. */
    private readonly traces: Pick<TraceStore, 'newestRows'> | null,
  ) {}

  /** The workspace's tables, `.keel/analytics.duckdb`. */
  static of(workspace: string, traces: Pick<TraceStore, 'newestRows'> | null): WorkspaceAnalytics {
    return new WorkspaceAnalytics(join(workspace, KEEL_DIR, ANALYTICS_FILE), traces);
  }

  store(request: StoreRequest): Promise<StoreResult | null> {
    const file = this.file;
    return file === null ? Promise.resolve(null) : this.inLine(() => storeRows(file, request));
  }

  query(request: QueryRequest): Promise<QueryResult> {
    return this.inLine(async () => runReadOnlyQuery(this.file, await metricsTables(this.traces), request));
  }

  private inLine<T>(work: () => Promise<T>): Promise<T> {
    const result = this.line.then(work, work);
    this.line = result.catch(() => undefined);
    return result;
  }
}

/** The same queries, and stores that write nothing (null): a replay reads, it never writes. */
export function readOnlyAnalytics(analytics: AnalyticsPort): AnalyticsPort {
  return { store: () => Promise.resolve(null), query: (request) => analytics.query(request) };
}
