/**
 * `into:` and `import`: rows into an analytics table. The rows of a connector step are taken
 * from its output (a JSON pointer or a template reading `output`) after its action, which the
 * journal makes happen once; the store itself is idempotent by batch (run:step) or by `key`, so
 * a resumed step stores the same rows again without doubling them.
 */
import type { AnalyticsInto, RunbookStep } from '@keel/schemas';
import type { StoreResult } from '../../analytics/analyticsStore';
import { AnalyticsShapeError } from '../../analytics/columns';
import { readExportRows } from '../../analytics/exportFile';
import { WorkspacePathError } from '../../files/workspacePaths';
import { renderTemplate, renderText } from '../templates';
import { analyticsOf } from './query';
import { StepFailedError, type StepResult, type StepRuntime } from './stepRuntime';

type ImportStep = Extract<RunbookStep, { type: 'import' }>;

/** Stores the rows `into` points at in `output`; what was stored (null in a replay). */
export async function storeInto(
  stepId: string,
  into: AnalyticsInto,
  output: unknown,
  runtime: StepRuntime,
): Promise<StoreResult | null> {
  const rows = await rowsOf(stepId, into.rows, output, runtime);
  try {
    return await analyticsOf(runtime).store({
      table: into.table,
      rows,
      mode: into.mode,
      key: into.key,
      batch: `${runtime.runId}:${stepId}`,
    });
  } catch (error) {
    throw stepError(stepId, error);
  }
}

export async function importInput(
  step: ImportStep,
  runtime: StepRuntime,
): Promise<{ path: string; table: string }> {
  return { path: await renderText(step.path, runtime.scope), table: step.into.table };
}

export async function runImport(step: ImportStep, runtime: StepRuntime, path: string): Promise<StepResult> {
  let rows: Record<string, unknown>[];
  try {
    rows = await readExportRows(runtime.workspace, path);
  } catch (error) {
    throw stepError(step.id, error);
  }
  const stored = await storeInto(step.id, { ...step.into, rows: undefined }, rows, runtime);
  return { output: { path, table: step.into.table, stored: stored?.stored ?? rows.length } };
}

async function rowsOf(
  stepId: string,
  where: string | undefined,
  output: unknown,
  runtime: StepRuntime,
): Promise<unknown> {
  if (where === undefined) return output;
  if (where.startsWith('/')) return atPointer(stepId, output, where);
  return renderTemplate(where, { ...runtime.scope, output });
}

/** RFC 6901: `/items/0/name`, with `~1` for / and `~0` for ~. */
function atPointer(stepId: string, value: unknown, pointer: string): unknown {
  let current = value;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, token)) {
      throw new StepFailedError(
        `step "${stepId}": into.rows ${pointer} is not in the output (no "${token}")`,
        false,
      );
    }
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}

function stepError(stepId: string, error: unknown): unknown {
  if (error instanceof AnalyticsShapeError || error instanceof WorkspacePathError) {
    return new StepFailedError(`step "${stepId}": ${error.message}`, false);
  }
  return error;
}
