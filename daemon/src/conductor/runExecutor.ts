/**
 * Executes one run from its history: steps the journal shows finished are taken from it, the
 * rest run now, each bracketed by journal records, so a run killed anywhere picks up where it
 * stopped. Every model call and side effect goes through the history's `once`. The same code
 * replays a finished run (a history in mode `replay`): the journal answers every model call and
 * side effect, and nothing is written.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { schemaCheck, type SchemaProblem } from '../connectors/linearTimeAjv';
import type { CircuitBreaker } from '../governance/circuitBreaker';
import {
  COST_GATE_STEP,
  WorkspaceConfig,
  type Runbook,
  type RunbookStep,
  type RunStatus,
} from '@keel/schemas';
import { BudgetExceededError, RunBudget } from './budget';
import { routedRunbook, routeRun, type TierEval } from './models/routing';
import { evaluateCondition, renderTemplate, renderText, type Scope } from './templates';
import { ModelCallError } from './models/modelProvider';
import { ModelGateway, type ModelsConfig } from './models/modelGateway';
import { effectKey, modelKey, ReplayDivergenceError, type RunHistory } from './runHistory';
import type { ChatMessage, ModelProvider, ToolDefinition } from './models/modelProvider';
import { makeHandoff, type ChildRunPort } from './handoffs';
import { makeProposer, type ApprovalPort } from './proposals';
import { builtInConnectors, type ConnectorPort } from '../connectors/workspaceConnectors';
import { runBranches, SharedSlot } from './parallelSteps';
import { StepGraph } from './stepGraph';
import { agentMessages, agentTools, runAgent } from './steps/agent';
import { connectorArguments, runConnector } from './steps/connector';
import { compensate, compensates, withOperatorNotes } from './compensation';
import { handoffStepInput, runHandoff } from './steps/handoff';
import { llmMessages, runLlm } from './steps/llm';
import { runPropose } from './steps/propose';
import { checkpointInput, runCheckpoint } from './steps/checkpoint';
import { makeCheckpointer, type CheckpointPort } from './checkpoints';
import type { RecordOf } from './journalRecords';
import { retrieveInput, runRetrieve } from './steps/retrieve';
import { queryInput, runQuery, type QueryInput } from './steps/query';
import { importInput, runImport } from './steps/into';
import { readOnlyAnalytics, type AnalyticsPort } from '../analytics/workspaceAnalytics';
import { followAbort } from '../runtime/followAbort';
import {
  StepFailedError,
  UNLIMITED_SLOT,
  type MemoryAccess,
  type RunSlot,
  type StepResult,
  type StepRuntime,
} from './steps/stepRuntime';

export interface ExecutionOptions {
  runId: string;
  runbook: Runbook;
  /** The runbook's newest eval per tier, for steps with a route of their own (none: never evaluated). */
  evals?: (runbook: string, tiers: readonly string[]) => Promise<Map<string, TierEval | null>>;
  workspace: string;
  /** What happened so far (at least the run record); writes the run's records. */
  history: RunHistory;
  /** `capture` records side effects without performing them (runbook tests). */
  effects?: 'perform' | 'capture';
  models: ModelsConfig;
  provider: ModelProvider;
  memory: MemoryAccess;
  signal: AbortSignal;
  /** The conductor's concurrency slot this run holds, given up while it waits for the operator. */
  slot?: RunSlot;
  /** Steps executing at once when their `needs:` allow (keel.yaml `runbooks.parallelSteps`); 1 by default. */
  parallelSteps?: number;
  /** The workspace's connectors; the built-ins alone when not given. */
  connectors?: ConnectorPort;
  /** The workspace's analytics tables; none when not given (`query` and `into:` then fail). */
  analytics?: AnalyticsPort | null;
  /** Where proposals go; null where there is nowhere (a test without a workspace's approvals). */
  approvals?: ApprovalPort | null;
  /** Where hand-offs to other runbooks start their child runs; null where they cannot. */
  children?: ChildRunPort | null;
  /**
   * The tools an agent step offered when it was recorded, where the journal does not say (a runbook
   * test answers from its cassette): offered as recorded, no connector started to list them.
   */
  recordedTools?: (stepId: string) => ToolDefinition[] | null;
  /** Where checkpoints wait for the operator; null where nobody answers (a replay answers from the journal). */
  checkpoints?: CheckpointPort | null;
  /** The operator's latest corrections of this runbook's proposals, for prompts. */
  feedback?: string | null;
  /** The model endpoint's circuit breaker. */
  breaker?: CircuitBreaker | null;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface ExecutionResult {
  status: Exclude<RunStatus, 'queued' | 'running'>;
  outputs: Record<string, unknown> | null;
  error: string | null;
  escalation: string | null;
  /** Model calls actually sent (0 in a replay). */
  modelCallsSent: number;
  /** Side effects actually performed (0 in a replay). */
  sideEffects: number;
}

export class RunCancelledError extends Error {}

/** The settings a run without a workspace's keel.yaml decides connector actions by. */
const DEFAULT_CONFIG = WorkspaceConfig.parse({ version: 1 });

export async function executeRun(given: ExecutionOptions): Promise<ExecutionResult> {
  const { history } = given;
  const run = history.run;
  // A routed runbook runs on the tier chosen when the run started, resumed or replayed alike.
  const options = { ...given, runbook: routedRunbook(given.runbook, run.route) };
  const budget = restoreBudget(options.runbook, history);
  // Stopped by the operator, or by a parallel step that ended the run.
  const branches = new AbortController();
  const signal = AbortSignal.any([options.signal, branches.signal]);
  let sideEffects = 0;
  const gateway = new ModelGateway({
    models: options.models,
    provider: options.provider,
    budget,
    history,
    signal,
    breaker: options.breaker ?? null,
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  const steps: Record<string, { output: unknown; status: string }> = {};
  const scope: Scope = { inputs: run.inputs, steps, run: { id: run.id, runbook: run.runbook } };
  const fromEvent = run.origin?.type === 'event';
  const runtime: StepRuntime = {
    runId: run.id,
    runbook: options.runbook,
    workspace: options.workspace,
    scope,
    models: gateway,
    memory: options.memory,
    budget,
    signal,
    attempt: 1,
    feedback: options.feedback ?? null,
    connectors: options.connectors ?? builtInConnectors(options.workspace, DEFAULT_CONFIG),
    // A replay or a runbook test reads the tables; only a live run writes them, once every step's
    // end before is on disk (rows built from a step's output outlive a power cut that loses it).
    analytics:
      options.analytics && (history.mode === 'replay' || options.effects === 'capture')
        ? readOnlyAnalytics(options.analytics)
        : options.analytics
          ? storingAfterSettled(options.analytics, history)
          : null,
    propose: () => Promise.reject(new Error('not ready')),
    handoff: () => Promise.reject(new Error('not ready')),
    handoffTarget: async (name) => {
      if (!options.children) throw new Error('hand-offs to other runbooks are not available here');
      return options.children.runbook(name);
    },
    checkpoint: () => Promise.reject(new Error('not ready')),
    policyRule: (path, kind) => options.approvals?.policyRule(path, kind, fromEvent) ?? null,
    fromEvent,
    intend: async (intent) => {
      if (history.openIntent(effectKey(intent.key))) return 'cut_off';
      await history.append({ type: 'effectIntent', stepId: stepOf(intent.key), ...intent, at: now() });
      return 'fresh';
    },
    failedIntent: (key, error) =>
      history.append({ type: 'effectFailed', stepId: stepOf(key), key, error, at: now() }),
    recordedTools: () => null,
    stepTier: (step) => stepTier(options, history, step),
    escalate: async (escalation) => {
      if (history.escalated(escalation.stepId, escalation.fromTier, escalation.toTier)) return;
      await history.append({ type: 'escalation', ...escalation, at: now() });
    },
    effect: async (key, connector, action, _args, perform, preview) => {
      const stepId = stepOf(key);
      return history.once(
        { key: effectKey(key), stepId, what: `makes the side effect ${connector} ${action}` },
        async () => {
          const capture = options.effects === 'capture';
          const done = capture ? await preview() : await perform();
          if (!capture) sideEffects++;
          return {
            result: done,
            record: { type: 'effect', stepId, key, connector, action, result: done, at: now() },
          };
        },
      );
    },
  };

  const slot = new SharedSlot(options.slot ?? UNLIMITED_SLOT);
  runtime.propose = makeProposer({
    runId: run.id,
    runbook: options.runbook.name,
    history,
    approvals: options.approvals ?? null,
    capture: options.effects === 'capture',
    signal,
    budget,
    slot: slot.step,
    effect: (...args) => runtime.effect(...args),
    fromEvent,
    ...(run.origin ? { event: `${run.origin.event}:${run.origin.connector}:${run.origin.eventId}` } : {}),
  });
  runtime.handoff = makeHandoff({
    run,
    history,
    children: options.children ?? null,
    signal,
    budget,
    slot: slot.step,
  });
  runtime.checkpoint = makeCheckpointer({
    runId: run.id,
    history,
    desk: options.checkpoints ?? null,
    capture: options.effects === 'capture',
    signal,
    budget,
    slot: slot.step,
  });

  const end = async (
    status: ExecutionResult['status'],
    reason: string | null,
    outputs: Record<string, unknown> | null = null,
  ): Promise<ExecutionResult> => {
    // The run ends (and takes anything back) once every step's end is on disk. One that could not
    // be written fails the run here, with nothing more done, no undo either: its journal cannot
    // keep what it would do.
    await history.settled();
    // A failed or cancelled run takes its actions back; what it cannot is the operator's.
    const error = compensates(status, history, options.effects)
      ? withOperatorNotes(reason, await compensate(runtime, history))
      : reason;
    return {
      status,
      outputs,
      error,
      escalation:
        status === 'succeeded' || status === 'cancelled'
          ? null
          : await escalationMessage(options.runbook, scope, error),
      modelCallsSent: gateway.sent,
      sideEffects,
    };
  };

  /** One attempt of a step: null when it ended, `retry` when its `retry:` may try it again. */
  const attemptStep = async (
    step: RunbookStep,
    attempt: number,
  ): Promise<ExecutionResult | null | { retry: string }> => {
    const numbered = attempt > 1 ? { attempt } : {};
    const clock = new AttemptClock(step, signal);
    try {
      if (step.when && !(await evaluateCondition(step.when, scope))) {
        history.appendEnd({
          type: 'stepEnd',
          stepId: step.id,
          status: 'skipped',
          output: null,
          error: null,
          retrieved: [],
          at: now(),
        });
        steps[step.id] = { output: null, status: 'skipped' };
        return null;
      }
      budget.takeStep(`step "${step.id}"`);
      const own: StepRuntime = {
        ...runtime,
        signal: clock.signal,
        attempt,
        models: gateway.forAttempt({ number: attempt, signal: clock.signal }),
        recordedTools: (stepId) =>
          recordedTools(history, stepId, attempt) ?? options.recordedTools?.(stepId) ?? null,
        // The operator's time is not the step's: its timeout stops while it waits for a decision,
        // and its child run has a budget of its own.
        propose: (request) => clock.paused(() => runtime.propose(request)),
        handoff: (request) => clock.paused(() => runtime.handoff(request)),
        checkpoint: (request) => clock.paused(() => runtime.checkpoint(request)),
      };
      const input = await stepInput(step, own);
      await history.append({
        type: 'stepStart',
        stepId: step.id,
        stepType: step.type,
        input,
        ...numbered,
        at: now(),
      });
      const recalled = history.mode === 'replay' ? recall(step, input, history) : null;
      const result = recalled ?? (await clock.race(runStep(step, own, input)));
      // Its fdatasync runs while the next step starts (see appendEnd).
      history.appendEnd({
        type: 'stepEnd',
        stepId: step.id,
        status: 'succeeded',
        ...numbered,
        output: result.output ?? null,
        error: null,
        retrieved: result.retrieved ?? [],
        at: now(),
      });
      steps[step.id] = { output: result.output ?? null, status: 'succeeded' };
      return null;
    } catch (error) {
      if (error instanceof ReplayDivergenceError) throw error;
      if (signal.aborted) return end('cancelled', 'cancelled by the operator');
      const message = clock.timedOut ?? describe(error);
      if (error instanceof BudgetExceededError) return end('budget_exceeded', `budget exceeded: ${message}`);
      await history.append({
        type: 'stepEnd',
        stepId: step.id,
        status: 'failed',
        ...numbered,
        output: null,
        error: message,
        retrieved: [],
        at: now(),
      });
      steps[step.id] = { output: null, status: 'failed' };
      const retryable = !(error instanceof StepFailedError && !error.retryable);
      if (retryable && attempt < (step.retry?.maxAttempts ?? 1)) return { retry: message };
      return end('failed', `step "${step.id}" failed${attempts(attempt)}: ${message}`);
    } finally {
      clock.stop();
    }
  };

  const executeStep = async (step: RunbookStep): Promise<ExecutionResult | null> => {
    const retry = step.retry ?? { maxAttempts: 1, backoffSeconds: 0 };
    for (let attempt = nextAttempt(step.id, history); ; attempt++) {
      if (signal.aborted) return end('cancelled', 'cancelled by the operator');
      if (attempt > retry.maxAttempts) {
        // Its last attempt failed before a restart: the run ends as it would have.
        const last = history.stepEnd(step.id)?.error ?? 'it failed';
        return end('failed', `step "${step.id}" failed${attempts(attempt - 1)}: ${last}`);
      }
      const outcome = await attemptStep(step, attempt);
      if (outcome === null || !('retry' in outcome)) return outcome;
      if (history.mode === 'live') {
        const delayMs = Math.min(retry.backoffSeconds * 1000 * 2 ** (attempt - 1), 300_000);
        const slept = await (options.sleep ?? sleep)(delayMs, signal).then(
          () => true,
          () => false,
        );
        if (!slept) return end('cancelled', 'cancelled by the operator');
      }
    }
  };

  const gated = await passCostGate(run.costGate, runtime, slot, signal);
  if (gated === 'stopped') return end('cancelled', 'cancelled by the operator');

  // Steps the journal shows ended are taken from it; the rest execute as their needs allow.
  const ended = new Set<string>();
  for (const step of options.runbook.steps) {
    // A replay takes an output the operator supplied by hand (a takeover) from the journal too.
    const done = history.mode === 'live' ? history.stepEnd(step.id) : history.suppliedEnd(step.id);
    if (done && done.status !== 'failed') {
      steps[step.id] = { output: done.output, status: done.status };
      ended.add(step.id);
    }
  }
  const byId = new Map(options.runbook.steps.map((step) => [step.id, step]));
  const stopped = await runBranches({
    graph: new StepGraph(options.runbook.steps),
    ended,
    limit: options.parallelSteps ?? 1,
    run: (id) => executeStep(byId.get(id)!),
    slot,
    stopOthers: () => branches.abort(new Error('the run stopped')),
    onRunning: (count) => budget.setRunning(count),
  });
  if (stopped) {
    // Another branch may have ended a step after the one that stopped the run settled.
    await history.settled();
    return stopped;
  }
  if (options.signal.aborted) return end('cancelled', 'cancelled by the operator');
  const never = options.runbook.steps.filter((step) => !ended.has(step.id)).map((step) => step.id);
  if (never.length > 0)
    return end('failed', `steps ${never.join(', ')} could never start (check their needs:)`);
  return finish(options.runbook, scope, end);
}

/** The tables, each store made once the step ends written before it are durable. */
function storingAfterSettled(analytics: AnalyticsPort, history: RunHistory): AnalyticsPort {
  return {
    store: async (request) => {
      await history.settled();
      return analytics.store(request);
    },
    query: (request) => analytics.query(request),
  };
}

/**
 * A run whose cost forecast was above `approvals.costAbove` when it started waits at the
 * `keel.forecast` checkpoint (durably, slot given up) before its first step; the operator
 * continues it or stops it. A resumed or replayed run answers from its journal.
 */
async function passCostGate(
  gate: RecordOf<'run'>['costGate'],
  runtime: StepRuntime,
  slot: SharedSlot,
  signal: AbortSignal,
): Promise<'passed' | 'stopped'> {
  if (!gate) return 'passed';
  await slot.enter();
  try {
    await runtime.checkpoint({ stepId: COST_GATE_STEP, message: gate.message, state: gate.forecast });
    return 'passed';
  } catch (error) {
    if (signal.aborted) return 'stopped';
    throw error;
  } finally {
    slot.leave();
  }
}

async function finish(
  runbook: Runbook,
  scope: Scope,
  end: (
    status: ExecutionResult['status'],
    error: string | null,
    outputs?: Record<string, unknown> | null,
  ) => Promise<ExecutionResult>,
): Promise<ExecutionResult> {
  const outputs: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(runbook.outputs)) {
    try {
      outputs[name] = await renderTemplate(output.value, scope);
    } catch (error) {
      return end('failed', `output "${name}" could not be computed: ${describe(error)}`);
    }
    if (output.schema) {
      let problem: SchemaProblem | null;
      try {
        problem = schemaCheck(output.schema)(outputs[name]);
      } catch (error) {
        return end(
          'failed',
          `output "${name}" has a schema that cannot be used: ${describe(error)}`,
          outputs,
        );
      }
      if (problem) {
        const where = problem.path.length ? ` at ${problem.path.join('.')}` : '';
        return end(
          'failed',
          `output "${name}" does not match its schema${where}: ${problem.message}`,
          outputs,
        );
      }
    }
  }
  const withOutputs = { ...scope, outputs };
  for (const criterion of runbook.success) {
    const check = typeof criterion === 'string' ? criterion : criterion.check;
    const label = typeof criterion === 'string' ? criterion : (criterion.description ?? criterion.check);
    let holds: boolean;
    try {
      holds = await evaluateCondition(check, withOutputs);
    } catch (error) {
      return end(
        'failed',
        `success criterion "${label}" could not be evaluated: ${describe(error)}`,
        outputs,
      );
    }
    if (!holds) return end('failed', `success criterion not met: ${label}`, outputs);
  }
  return end('succeeded', null, outputs);
}

/**
 * In a replay, memory and the analytics tables are inputs of the run like its inputs: a retrieval
 * or a query asked exactly as recorded gets the recorded answer, whatever the notes or tables say
 * today. A changed query searches (or queries) again.
 */
function recall(step: RunbookStep, input: unknown, history: RunHistory): StepResult | null {
  const before = history.stepStart(step.id);
  const after = history.stepEnd(step.id);
  const recalled = step.type === 'retrieve' || step.type === 'query' || step.type === 'import';
  if (!recalled || !before || !after || !isDeepStrictEqual(before.input, input)) return null;
  return { output: after.output, retrieved: after.retrieved };
}

/** `input` is what stepInput rendered for the step: an llm step asks with it, not rendering it again. */
async function runStep(step: RunbookStep, runtime: StepRuntime, input: unknown): Promise<StepResult> {
  switch (step.type) {
    case 'retrieve':
      return runRetrieve(step, runtime);
    case 'llm':
      return runLlm(step, runtime, [...(input as { messages: ChatMessage[] }).messages]);
    case 'agent':
      return runAgent(step, runtime);
    case 'propose':
      return runPropose(step, runtime);
    case 'connector':
      return runConnector(step, runtime);
    case 'runbook':
      return runHandoff(step, runtime, input as Awaited<ReturnType<typeof handoffStepInput>>);
    case 'checkpoint':
      return runCheckpoint(step, runtime);
    case 'query':
      return runQuery(step, runtime, input as QueryInput);
    case 'import':
      return runImport(step, runtime, (input as { path: string }).path);
  }
}

/** The tools the journal's first model call of this step and attempt offered, or null. */
function recordedTools(history: RunHistory, stepId: string, attempt: number): ToolDefinition[] | null {
  const request = history.recorded(modelKey(stepId, 0, attempt))?.request as { tools?: unknown } | undefined;
  return Array.isArray(request?.tools) ? (request.tools as ToolDefinition[]) : null;
}

/** What the step is about to work on, rendered: shown in the trace and compared by replay. */
async function stepInput(step: RunbookStep, runtime: StepRuntime): Promise<unknown> {
  switch (step.type) {
    case 'retrieve':
      return { ...(await retrieveInput(step, runtime)), filter: step.filter ?? null };
    case 'llm':
      return { messages: await llmMessages(step, runtime) };
    case 'agent': {
      const messages = await agentMessages(step, runtime);
      if (step.runbooks.length === 0) return { messages, tools: step.tools };
      // The runbooks it may hand off to, as offered: a runbook whose inputs changed is a new request.
      const offered = await agentTools(step, runtime);
      return { messages, tools: step.tools, runbooks: offered.slice(step.tools.length) };
    }
    case 'propose':
      return {
        path: await renderText(step.path, runtime.scope),
        summary: await renderText(step.summary, runtime.scope),
      };
    case 'connector':
      return { use: step.use, action: step.action, with: await connectorArguments(step, runtime) };
    case 'runbook':
      return handoffStepInput(step, runtime);
    case 'checkpoint':
      return checkpointInput(step, runtime);
    case 'query':
      return queryInput(step, runtime);
    case 'import':
      return importInput(step, runtime);
  }
}

/** The budget as the journal left it: spend, tokens, steps and active time before a restart. */
/**
 * A model step's tier: its own route's choice, made when it first starts and journaled (a
 * restart or replay reads it back), else its `tier:`, else the runbook's (already routed).
 */
async function stepTier(
  options: ExecutionOptions,
  history: RunHistory,
  step: Parameters<StepRuntime['stepTier']>[0],
): ReturnType<StepRuntime['stepTier']> {
  if (!step.model) return { tier: step.tier ?? options.runbook.model.tier, route: options.runbook.model };
  let chosen = history.stepRoute(step.id);
  if (!chosen) {
    const noEvals = (): Promise<Map<string, TierEval | null>> =>
      Promise.resolve(new Map<string, TierEval | null>());
    const route = await routeRun(
      { name: options.runbook.name, model: step.model },
      options.models.tiers,
      options.evals ?? noEvals,
    );
    chosen = { type: 'stepRoute', stepId: step.id, ...route!, at: new Date().toISOString() };
    await history.append(chosen);
  }
  return { tier: chosen.tier, route: { route: 'cheapest-passing', tiers: chosen.tiers } };
}

function restoreBudget(runbook: Runbook, history: RunHistory): RunBudget {
  // A child run spends its parent's money: at most the share its parent set aside for it.
  const share = history.run.limits;
  const limits = share
    ? {
        ...runbook.budget,
        maxUsd: Math.min(runbook.budget.maxUsd, share.maxUsd),
        maxTokens: Math.min(runbook.budget.maxTokens, share.maxTokens),
      }
    : runbook.budget;
  // A replay spends nothing and starts its clock afresh: the journal answers every call.
  if (history.mode === 'replay') return new RunBudget(limits, 0);
  const spent = history.spend();
  const budget = new RunBudget(limits, spent.activeMs);
  budget.spend(spent.usd, spent.tokens);
  budget.steps = spent.steps;
  return budget;
}

async function escalationMessage(runbook: Runbook, scope: Scope, error: string | null): Promise<string> {
  const reason = error ?? 'the run did not succeed';
  if (!runbook.escalation.message) return `${runbook.name} needs the operator: ${reason}`;
  try {
    return await renderText(runbook.escalation.message, { ...scope, error: reason });
  } catch {
    return `${runbook.name} needs the operator: ${reason}`;
  }
}

function describe(error: unknown): string {
  if (
    error instanceof StepFailedError ||
    error instanceof ModelCallError ||
    error instanceof BudgetExceededError
  ) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The step of an idempotency key `<run>:<step>[...]`. */
function stepOf(key: string): string {
  return key.split(':')[1] ?? '';
}

function now(): string {
  return new Date().toISOString();
}

/**
 * The attempt a step starts at: 1, the same attempt again when a restart interrupted it, or the
 * next one when its last attempt failed (a replay starts over from the first).
 */
function nextAttempt(stepId: string, history: RunHistory): number {
  if (history.mode === 'replay') return 1;
  const start = history.stepStart(stepId);
  if (!start) return 1;
  const started = start.attempt ?? 1;
  const ended = history.stepEnd(stepId);
  return ended?.status === 'failed' && (ended.attempt ?? 1) === started ? started + 1 : started;
}

function attempts(count: number): string {
  return count > 1 ? ` after ${count} attempts` : '';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal });
}

/**
 * One attempt's time limit (`timeoutSeconds`): its signal ends the attempt's model calls when
 * the limit passes; the clock stops while the step waits for the operator.
 */
class AttemptClock {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal;
  /** Why the attempt was stopped, once its time ran out. */
  timedOut: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private leftMs: number;
  private since = 0;
  private expired: (() => void) | null = null;

  /** Lets go of the run's cancel, which the attempt follows until it stops. */
  private readonly unfollow: () => void;

  constructor(
    private readonly step: RunbookStep,
    run: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.unfollow = followAbort(run, this.controller);
    this.leftMs = (step.timeoutSeconds ?? 0) * 1000;
    this.resume();
  }

  /** The step's work, or a failure as soon as its time runs out. */
  race<T>(work: Promise<T>): Promise<T> {
    if (!this.step.timeoutSeconds) return work;
    const timeout = new Promise<never>((_, reject) => {
      this.expired = () => reject(new StepFailedError(this.timedOut!));
    });
    if (this.timedOut) this.expired?.();
    return Promise.race([work, timeout]);
  }

  /** The work, with the clock stopped while it runs (waiting for the operator, a child run). */
  async paused<T>(work: () => Promise<T>): Promise<T> {
    this.pause();
    try {
      return await work();
    } finally {
      this.resume();
    }
  }

  pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.leftMs -= performance.now() - this.since;
  }

  resume(): void {
    if (!this.step.timeoutSeconds || this.timer || this.timedOut) return;
    this.since = performance.now();
    this.timer = setTimeout(() => this.expire(), Math.max(0, this.leftMs));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unfollow();
  }

  private expire(): void {
    this.timer = null;
    this.timedOut = `it took longer than its timeoutSeconds (${this.step.timeoutSeconds} s)`;
    this.controller.abort(new Error(this.timedOut));
    this.expired?.();
  }
}
