/**
 * What a model call asked besides its messages (model, temperature, max tokens, answer schema,
 * tools), and how a recorded call differs from the one made now: the one comparison `keel test`
 * (cassettes) and `keel replay` (journals) use, so both name the setting that changed.
 */
import { createHash } from 'node:crypto';
import type { ModelCallSettings } from '@keel/schemas';
import type { ChatMessage, ModelRequest } from './modelProvider';

/** A call as the recording keeps it: the request's hashes and settings. */
export interface CallFingerprint {
  /** sha256 of messages, tools and schema (every cassette and journal has it). */
  requestHash: string;
  /** sha256 of the messages alone; absent in what was recorded before Keel kept it. */
  promptHash?: string | undefined;
  /** Absent in what was recorded before Keel kept settings: then they are not compared. */
  settings?: ModelCallSettings | undefined;
}

/**
 * The settings of a request as it is sent.
 * @param model the model id sent; undefined when keel.yaml does not name the tier (a test or a
 *   replay without tiers), so that nothing is compared against a made-up name
 */
export function requestSettings(
  tier: string,
  model: string | undefined,
  request: Omit<ModelRequest, 'model'>,
): ModelCallSettings {
  const tools = request.tools ?? [];
  return {
    tier,
    ...(model === undefined ? {} : { model }),
    maxOutputTokens: request.maxOutputTokens,
    temperature: request.temperature ?? null,
    responseFormat: request.jsonSchema ? 'json_schema' : 'text',
    schemaHash: request.jsonSchema ? sha256(request.jsonSchema) : null,
    tools: tools.map((tool) => tool.function.name),
    toolsHash: tools.length > 0 ? sha256(tools) : null,
  };
}

export function promptHash(messages: readonly ChatMessage[]): string {
  return sha256(messages);
}

/**
 * How the call made now differs from the recorded one, one phrase a change
 * (`temperature changed from 0.2 to 0.9`, `the prompt changed`); empty when it is the same call.
 * A setting the recording lacks (recorded before Keel kept it) or that is unknown now is not compared.
 */
export function callChanges(recorded: CallFingerprint, now: Required<CallFingerprint>): string[] {
  const changes = recorded.settings ? settingChanges(recorded.settings, now.settings) : [];
  const promptChanged =
    recorded.promptHash === undefined
      ? recorded.requestHash !== now.requestHash && changes.length === 0
      : recorded.promptHash !== now.promptHash;
  if (promptChanged) changes.unshift('the prompt changed');
  // Hashes differ and nothing above says why: no request of Keel's gets here, but never call it the same.
  if (changes.length === 0 && recorded.requestHash !== now.requestHash) changes.push('the request changed');
  return changes;
}

/**
 * The error for a call that changed since its recording, naming the step, the call and each change.
 * A change of the prompt alone keeps its long-standing wording.
 */
export function changedCallMessage(stepId: string, call: number, changes: string[], since: string): string {
  const where = `step "${stepId}" (call ${call + 1})`;
  if (changes.length === 1 && changes[0] === 'the prompt changed') {
    return `the prompt of ${where} changed since ${since}`;
  }
  return `${where}: ${changes.join(', ')} since ${since}`;
}

function settingChanges(before: ModelCallSettings, after: ModelCallSettings): string[] {
  const changes: string[] = [];
  const differs = <K extends keyof ModelCallSettings>(key: K): boolean =>
    before[key] !== undefined &&
    after[key] !== undefined &&
    JSON.stringify(before[key]) !== JSON.stringify(after[key]);
  if (differs('tier')) changes.push(`model tier changed from ${before.tier} to ${after.tier}`);
  if (differs('model')) changes.push(`model changed from ${before.model} to ${after.model}`);
  if (differs('temperature')) {
    changes.push(
      `temperature changed from ${temperature(before.temperature)} to ${temperature(after.temperature)}`,
    );
  }
  if (differs('maxOutputTokens')) {
    changes.push(`maxOutputTokens changed from ${before.maxOutputTokens} to ${after.maxOutputTokens}`);
  }
  if (differs('responseFormat')) {
    changes.push(`the response format changed from ${before.responseFormat} to ${after.responseFormat}`);
  } else if (differs('schemaHash')) changes.push('the answer schema changed');
  if (differs('tools')) {
    const added = after.tools.filter((name) => !before.tools.includes(name));
    const removed = before.tools.filter((name) => !after.tools.includes(name));
    const parts = [
      ...(added.length ? [`added ${added.join(', ')}`] : []),
      ...(removed.length ? [`removed ${removed.join(', ')}`] : []),
    ];
    changes.push(`the tools changed (${parts.join('; ') || 'their order'})`);
  } else if (differs('toolsHash')) changes.push("the tools' definitions changed");
  return changes;
}

function temperature(value: number | null): string {
  return value === null ? "none (the endpoint's default)" : String(value);
}

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}
