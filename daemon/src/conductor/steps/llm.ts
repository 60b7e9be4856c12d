/**
 * `llm`: one prompt, answered as text or as JSON checked against the step's schema. An invalid
 * answer is re-asked once with the reason; if that fails too, each next tier of a routed runbook
 * (journaled as an escalation) and then the runbook's escalation tier get one try.
 */
import type { RunbookStep } from '@keel/schemas';
import { schemaCheck, type SchemaProblem } from '../../connectors/linearTimeAjv';
import { renderText } from '../templates';
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
  const first = await ask(0, tier);
  if (!schema) return { output: first };

  let answer = first;
  let problem = validate(schema, answer);
  const attempts: [number, string][] = [[1, tier]];
  // A routed runbook goes on along its route (cheapest first), then to its escalation tier.
  for (let next = nextTier(route, tier); next; next = nextTier(route, next))
    attempts.push([attempts.length + 1, next]);
  const escalationTier = runtime.runbook.escalation.tier;
  if (escalationTier && !attempts.some(([, t]) => t === escalationTier))
    attempts.push([attempts.length + 1, escalationTier]);
  let lastTier = tier;
  for (const [call, useTier] of attempts) {
    if (problem.ok) break;
    if (useTier !== lastTier && route.route) {
      await runtime.escalate({
        stepId: step.id,
        fromTier: lastTier,
        toTier: useTier,
        reason: problem.reason,
      });
    }
    lastTier = useTier;
    messages.push(
      { role: 'assistant', content: answer },
      {
        role: 'user',
        content: `That answer is not valid: ${problem.reason}. Answer again with only JSON that matches the schema.`,
      },
    );
    answer = await ask(call, useTier);
    problem = validate(schema, answer);
  }
  if (!problem.ok)
    throw new StepFailedError(
      `the model's answer is not valid JSON for the step's schema: ${problem.reason}`,
    );
  return { output: problem.value };
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
