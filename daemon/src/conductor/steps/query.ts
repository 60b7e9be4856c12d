/**
 * `query`: one read-only SELECT over the analytics tables and Keel's metrics; its rows are the
 * step's output. Parameters are rendered from templates and bound (`$since`), never pasted into
 * the SQL. A replay answers from the journal (runExecutor's recall), not from today's data.
 */
import type { RunbookStep } from '@keel/schemas';
import { QueryRefusedError } from '../../analytics/readOnlyQuery';
import type { AnalyticsPort } from '../../analytics/workspaceAnalytics';
import { renderTemplate } from '../templates';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type QueryStep = Extract<RunbookStep, { type: 'query' }>;
type Param = string | number | boolean | null;

/** How long a query may run when its step gives no `timeoutSeconds`. */
export const DEFAULT_QUERY_SECONDS = 30;

export interface QueryInput {
  sql: string;
  params: Record<string, Param>;
  maxRows: number;
}

export async function queryInput(step: QueryStep, runtime: StepRuntime): Promise<QueryInput> {
  const params: Record<string, Param> = {};
  for (const [name, value] of Object.entries(step.params)) {
    const rendered = typeof value === 'string' ? await renderTemplate(value, runtime.scope) : value;
    if (rendered !== null && !['string', 'number', 'boolean'].includes(typeof rendered)) {
      throw new StepFailedError(
        `params.${name} of step "${step.id}" is ${Array.isArray(rendered) ? 'a list' : typeof rendered}; a query parameter is text, a number, true/false or null`,
        false,
      );
    }
    params[name] = (rendered ?? null) as Param;
  }
  return { sql: step.sql, params, maxRows: step.maxRows };
}

export async function runQuery(
  step: QueryStep,
  runtime: StepRuntime,
  input: QueryInput,
): Promise<StepResult> {
  const analytics = analyticsOf(runtime);
  try {
    const result = await analytics.query({
      ...input,
      timeoutMs: (step.timeoutSeconds ?? DEFAULT_QUERY_SECONDS) * 1000,
    });
    return { output: { columns: result.columns, rows: result.rows, count: result.rows.length } };
  } catch (error) {
    if (error instanceof QueryRefusedError) {
      throw new StepFailedError(`query step "${step.id}": ${error.message}`, false);
    }
    throw error;
  }
}

/** The analytics, or a failure saying where they are missing. */
export function analyticsOf(runtime: Pick<StepRuntime, 'analytics'>): AnalyticsPort {
  if (!runtime.analytics) {
    throw new StepFailedError('analytics tables are not available here (no workspace store)', false);
  }
  return runtime.analytics;
}
