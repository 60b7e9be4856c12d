/**
 * `llm`: one prompt, answered as text or as JSON checked against the step's schema. An invalid
 * answer is re-asked once with the reason; if that fails too, each next tier of a routed runbook
 * (journaled as an escalation) and then the runbook's escalation tier get one try. A routed step
 * whose answer misses one of the run's `success:` checks that read only its output goes on to the
 * next tier the same way.
 */
import type { Runbook, RunbookStep } from '@keel/schemas';
import { schemaCheck, type SchemaProblem } from '../../connectors/linearTimeAjv';
import { evaluateCondition, renderText, type Scope } from '../templates';
import { nextTier } from '../models/routing';
import type { ChatMessage } from '../models/modelProvider';
import { StepFailedError, systemMessage, type StepResult, type StepRuntime } from './stepRuntime';

type LlmStep = Extract<RunbookStep, { type: 'llm' }>;

export async function llmMessages(step: LlmStep, runtime: StepRuntime): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  const own = step.system ? await renderText(step.system, runtime.scope) : null;
  const system = systemMessage(own, runtime.feedback);
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: await renderText(step.prompt, runtime.scope) });
  return messages;
}

/** `rendered`: the step's messages as its input already has them (one render per step, not two). */
export async function runLlm(
  step: LlmStep,
  runtime: StepRuntime,
  rendered?: ChatMessage[],
): Promise<StepResult> {
  const { tier, route } = await runtime.stepTier(step);
  // Compiled before the model is asked: a schema that cannot be used costs no call.
  const schema = step.schema ? compileStepSchema(step.schema) : null;
  const messages = rendered ?? (await llmMessages(step, runtime));
  const ask = async (call: number, useTier: string): Promise<string> => {
    const response = await runtime.models.call(step.id, call, useTier, {
      messages,
      ...(step.schema
        ? { jsonSchema: { name: step.id.replace(/[^a-zA-Z0-9_-]/g, '_'), schema: step.schema } }
        : {}),
      maxOutputTokens: step.maxOutputTokens,
      ...(step.temperature === undefined ? {} : { temperature: step.temperature }),
    });
    return response.content ?? '';
  };
  // Past the first answer: the route's next tiers (cheapest first), then the escalation tier.
  const ladder: string[] = [];
  for (let next = nextTier(route, tier); next; next = nextTier(route, next)) ladder.push(next);
  const escalationTier = runtime.runbook.escalation.tier;
  if (escalationTier && escalationTier !== tier && !ladder.includes(escalationTier))
    ladder.push(escalationTier);
  // Only a routed step is held to the run's checks of its own answer: the route says it may cost more.
  const checks = route.route ? ownChecks(runtime.runbook, step.id) : [];
  let call = 0;
  let current = tier;
  let reaskedSameTier = false;
  let answer = await ask(call, current);
  for (;;) {
    const verdict = schema ? validate(schema, answer) : ({ ok: true, value: answer } as const);
    const unmet = verdict.ok ? await unmetCheck(checks, runtime.scope, step.id, verdict.value) : null;
    if (verdict.ok && !unmet) return { output: verdict.value };
    // An invalid answer is asked again once on the same tier; an unmet check needs a stronger one.
    const next = !verdict.ok && !reaskedSameTier ? current : ladder.shift();
    if (!verdict.ok && next === current) reaskedSameTier = true;
    if (!next) {
      // A valid answer that misses a check is the step's: the run's end says which check failed.
      if (verdict.ok) return { output: verdict.value };
      throw new StepFailedError(
        `the model's answer is not valid JSON for the step's schema: ${verdict.reason}`,
      );
    }
    const reason = verdict.ok ? `success criterion not met: ${unmet}` : verdict.reason;
    if (next !== current && route.route) {
      await runtime.escalate({ stepId: step.id, fromTier: current, toTier: next, reason });
    }
    messages.push(
      { role: 'assistant', content: answer },
      {
        role: 'user',
        content: verdict.ok
          ? `That answer does not meet this check: ${unmet}. Answer again so that it does.`
          : `That answer is not valid: ${verdict.reason}. Answer again with only JSON that matches the schema.`,
      },
    );
    current = next;
    answer = await ask(++call, current);
  }
}

/**
 * The runbook's `success:` criteria that read this step's output and nothing else a run makes
 * (no other step, no `outputs`): they can be checked as soon as the step answers.
 */
export function ownChecks(runbook: Runbook, stepId: string): { check: string; label: string }[] {
  return runbook.success.flatMap((criterion) => {
    const check = typeof criterion === 'string' ? criterion : criterion.check;
    const read = [...check.matchAll(/\bsteps\.([a-zA-Z][\w-]*)/g)].map((m) => m[1]);
    if (read.length === 0 || read.some((id) => id !== stepId) || /\boutputs\b/.test(check)) return [];
    return [{ check, label: typeof criterion === 'string' ? criterion : (criterion.description ?? check) }];
  });
}

/** The label of the first check the answer misses, or null; one that cannot be evaluated is left to the run's end. */
async function unmetCheck(
  checks: { check: string; label: string }[],
  scope: Scope,
  stepId: string,
  output: unknown,
): Promise<string | null> {
  if (checks.length === 0) return null;
  const steps = {
    ...(scope.steps as Record<string, unknown> | undefined),
    [stepId]: { output, status: 'succeeded' },
  };
  for (const { check, label } of checks) {
    const holds = await evaluateCondition(check, { ...scope, steps }).catch(() => true);
    if (!holds) return label;
  }
  return null;
}

/**
 * The step's schema, compiled with the linear-time checker: the schema comes from a workspace file
 * and the value from a model, and neither may stall the daemon (no backtracking `pattern`).
 */
function compileStepSchema(schema: Record<string, unknown>): (value: unknown) => SchemaProblem | null {
  try {
    return schemaCheck(schema);
  } catch (error) {
    throw new StepFailedError(`the step's schema cannot be used: ${(error as Error).message}`);
  }
}

function validate(
  schema: (value: unknown) => SchemaProblem | null,
  text: string,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(stripFence(text));
  } catch {
    return { ok: false, reason: 'it is not JSON' };
  }
  const problem = schema(value);
  if (!problem) return { ok: true, value };
  return { ok: false, reason: `${problem.path.join('.') || 'the value'}: ${problem.message}` };
}

/** Models often wrap JSON in a Markdown code fence even when asked not to. */
function stripFence(text: string): string {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text);
  return fenced ? fenced[1]! : text;
}
