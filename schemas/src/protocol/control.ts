/** Governance: the emergency stop, quotas, circuit breakers, and the metrics report. */
import { z } from 'zod';
import { NoParams } from './common';
import { defineNotification, defineRequest, lazy } from './define';

export const BreakerState = lazy(() =>
  z.object({
    /** `endpoint:<baseUrl>`, `runbook:<name>` or `connector:<name>` (opened by a failed drift probe). */
    name: z.string(),
    state: z.enum(['closed', 'open', 'half_open']),
    /** Failures in a row so far. */
    failures: z.number().int(),
    /** When an open breaker lets a trial through. */
    retryAt: z.string().nullable(),
    /**
     * When a success last closed it (or found it closed), null if none since the daemon started:
     * an outage is over only then, not when a restart forgot the breaker.
     */
    succeededAt: z.string().nullable().optional(),
    /** Why it opened, where that is more than a count: the failed probe's detail and when it ran. */
    reason: z.string().nullable().optional(),
  }),
);
export type BreakerState = z.infer<typeof BreakerState>;

export const QuotaState = lazy(() =>
  z.object({
    agent: z.string(),
    period: z.enum(['day', 'month']),
    spentUsd: z.number(),
    tokens: z.number().int(),
    maxUsd: z.number().nullable(),
    maxTokens: z.number().nullable(),
    /** `warning` past warnAt; `exceeded`: new runs of the agent are refused. */
    state: z.enum(['ok', 'warning', 'exceeded']),
  }),
);
export type QuotaState = z.infer<typeof QuotaState>;

export const ControlState = lazy(() =>
  z.object({
    /** The emergency stop: no run executes and none starts until resumed. */
    stopped: z.boolean(),
    stoppedAt: z.string().nullable(),
    reason: z.string().nullable(),
    breakers: z.array(BreakerState.unwrap()),
    quotas: z.array(QuotaState.unwrap()),
  }),
);
export type ControlState = z.infer<typeof ControlState>;

export const ControlStateRequest = defineRequest({
  method: 'keel/control/state',
  params: NoParams,
  result: ControlState,
});

/** `keel/control/emergencyStop`: halts every run at once and refuses new ones, until resumed. */
export const EmergencyStopRequest = defineRequest({
  method: 'keel/control/emergencyStop',
  params: lazy(() =>
    z
      .strictObject({ reason: z.string().max(500).optional() })
      .optional()
      .default({}),
  ),
  result: ControlState,
});

/** `keel/control/resume`: lifts the emergency stop; halted runs go on where they stopped. */
export const ResumeRequest = defineRequest({
  method: 'keel/control/resume',
  params: NoParams,
  result: ControlState,
});

export const ControlChangedNotification = defineNotification({
  method: 'keel/control/changed',
  direction: 'serverToClient',
  params: ControlState,
});

export const AgentMetrics = lazy(() =>
  z.object({
    /** The runbook's name. */
    agent: z.string(),
    role: z.string().nullable(),
    runs: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    /** Succeeded / finished runs (0..1). */
    successRate: z.number(),
    /** Failed, over budget or errored / finished runs (0..1). */
    errorRate: z.number(),
    /** Run duration, start to end, in milliseconds. */
    p50Ms: z.number().nullable(),
    p95Ms: z.number().nullable(),
    costUsd: z.number(),
    tokens: z.number().int(),
    /** Finished runs per hour over the report's span. */
    throughputPerHour: z.number(),
    /**
     * Decisions on proposals: by the operator (approved, edited, rejected), and changes applied by a
     * keel.yaml policy rule without review (policy), which are never counted as reviewed.
     */
    approvals: z.object({
      approved: z.number().int(),
      edited: z.number().int(),
      rejected: z.number().int(),
      policy: z.number().int(),
    }),
    /** Approvals edited or rejected / approvals the operator decided (0..1), null without decisions. */
    reworkRate: z.number().nullable(),
    /**
     * Whether the runbook's lessons (memory/feedback) help: the rework rate of the span's decisions
     * up to its first lesson (that decision included) and after it; null before any lesson.
     */
    lessons: z
      .object({
        /** When the first lesson was taught. */
        since: z.string(),
        reworkBefore: z.number().nullable(),
        reworkAfter: z.number().nullable(),
        /** Decisions after the first lesson, in the span. */
        decidedAfter: z.number().int(),
      })
      .nullable()
      .default(null),
  }),
);
export type AgentMetrics = z.infer<typeof AgentMetrics>;

/**
 * What one connector did over a span: its actions (calls made by steps and agents, reads
 * included), how they ended, the undos compensation ran, and the operator's decisions on them.
 */
export const ConnectorMetrics = lazy(() =>
  z.object({
    /** The connector as runbooks name it (`mail`, `billing`, `fs.outbox`). */
    connector: z.string(),
    /** Actions started (undos not included). */
    actions: z.number().int(),
    succeeded: z.number().int(),
    /** Refused by the provider or for their input: they did not happen. */
    failed: z.number().int(),
    /** Cut off between intent and answer, not settled yet (see `keel show RUN`). */
    open: z.number().int(),
    /** Undos of its actions that compensation performed after a run failed or was cancelled. */
    undos: z.number().int(),
    /** The operator's decisions on its actions that waited for one (a rule's allow asks nothing). */
    approvals: z.object({
      approved: z.number().int(),
      edited: z.number().int(),
      rejected: z.number().int(),
    }),
  }),
);
export type ConnectorMetrics = z.infer<typeof ConnectorMetrics>;

/** `keel/metrics/report`: per agent over a span, and spend per agent per day. */
export const MetricsReportRequest = defineRequest({
  method: 'keel/metrics/report',
  params: lazy(() =>
    z
      .strictObject({
        /** ISO date or date-time; default 30 days ago. */
        since: z.string().optional(),
        until: z.string().optional(),
      })
      .optional()
      .default({}),
  ),
  result: lazy(() =>
    z.object({
      since: z.string(),
      until: z.string(),
      agents: z.array(AgentMetrics.unwrap()),
      /** Per connector over the span, busiest first. */
      connectors: z.array(ConnectorMetrics.unwrap()).default([]),
      spendByDay: z.array(
        z.object({ day: z.string(), agent: z.string(), costUsd: z.number(), tokens: z.number().int() }),
      ),
    }),
  ),
});
