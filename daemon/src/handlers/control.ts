/** `keel/control/*` and `keel/metrics/*`: the emergency stop, quotas, breakers, and the report. */
import {
  BudgetAdviceRequest,
  ControlStateRequest,
  EmergencyStopRequest,
  MetricsReportRequest,
  ResumeRequest,
} from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { Router } from '../rpc/router';

export function registerControlHandlers(router: Router, daemon: Daemon): void {
  const conductor = () => daemon.conductor.get();
  router.handle(ControlStateRequest, async () => (await conductor()).controlState());
  router.handle(EmergencyStopRequest, async ({ reason }) =>
    (await conductor()).emergencyStop(reason ?? null),
  );
  router.handle(ResumeRequest, async () => (await conductor()).resume());
  router.handle(MetricsReportRequest, async ({ since, until }) =>
    (await conductor()).metrics({ since, until }),
  );
  router.handle(BudgetAdviceRequest, async ({ since, until }) =>
    (await conductor()).advice({ since, until }),
  );
}
