/** `keel/evals/*`: graded runbook cases run live, and their results for the report. */
import { EvalReportRequest, EvalRunRequest } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerEvalHandlers(router: Router, daemon: Daemon): void {
  router.handle(EvalRunRequest, (request) => daemon.conductor.evaluate(request));
  router.handle(EvalReportRequest, async ({ since, until }) =>
    (await daemon.conductor.get()).evaluations.report({ since, until }),
  );
}
