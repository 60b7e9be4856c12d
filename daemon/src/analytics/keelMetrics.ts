/**
 * Keel's own metrics as a `query` step reads them: `keel.runs`, `keel.steps`, `keel.approvals`,
 * `keel.model_calls`, `keel.actions` (connector calls), copied from the run store for each query (newest rows first, capped), so a
 * query reads them like any table and can change nothing of Keel's.
 */
import type { MetricsTable, TraceStore } from '../conductor/traceStore';
import type { Column } from './columns';
import type { MetricsTables } from './readOnlyQuery';

/** Rows of each table a query sees at most: the newest ones. */
export const METRICS_ROW_CAP = 50_000;

const T = 'TIMESTAMPTZ' as const;
const TABLES: Record<MetricsTable, Column[]> = {
  runs: cols({
    id: 'VARCHAR',
    runbook: 'VARCHAR',
    status: 'VARCHAR',
    started_at: T,
    ended_at: T,
    cost_usd: 'DOUBLE',
    tokens: 'BIGINT',
    steps_done: 'BIGINT',
    error: 'VARCHAR',
  }),
  steps: cols({
    run_id: 'VARCHAR',
    step_id: 'VARCHAR',
    step_type: 'VARCHAR',
    status: 'VARCHAR',
    started_at: T,
    ended_at: T,
    error: 'VARCHAR',
  }),
  approvals: cols({
    id: 'VARCHAR',
    run_id: 'VARCHAR',
    runbook: 'VARCHAR',
    status: 'VARCHAR',
    decision: 'VARCHAR',
    created_at: T,
    decided_at: T,
    connector: 'VARCHAR',
    lesson: 'BOOLEAN',
  }),
  model_calls: cols({
    run_id: 'VARCHAR',
    step_id: 'VARCHAR',
    call: 'BIGINT',
    attempt: 'BIGINT',
    tier: 'VARCHAR',
    model: 'VARCHAR',
    latency_ms: 'DOUBLE',
    input_tokens: 'BIGINT',
    output_tokens: 'BIGINT',
    cost_usd: 'DOUBLE',
    outcome: 'VARCHAR',
    called_at: T,
  }),
  actions: cols({
    run_id: 'VARCHAR',
    key: 'VARCHAR',
    step_id: 'VARCHAR',
    connector: 'VARCHAR',
    action: 'VARCHAR',
    undoes: 'VARCHAR',
    status: 'VARCHAR',
    started_at: T,
    ended_at: T,
    error: 'VARCHAR',
  }),
};

function cols(types: Record<string, Column['type']>): Column[] {
  return Object.entries(types).map(([name, type]) => ({ name, type }));
}

/** A fresh copy of the metrics tables; empty tables when there is no run store (a runbook test). */
export async function metricsTables(traces: Pick<TraceStore, 'newestRows'> | null): Promise<MetricsTables> {
  const tables: MetricsTables = {};
  for (const [name, columns] of Object.entries(TABLES) as [MetricsTable, Column[]][]) {
    tables[name] = { columns, rows: traces ? await traces.newestRows(name, METRICS_ROW_CAP) : [] };
  }
  return tables;
}
