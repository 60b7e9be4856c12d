/**
 * How a recorded model call differs from the one made now: what `keel test` and `keel replay` say
 * when a step's model, temperature, max tokens, answer schema or tools changed, and that a prompt
 * change keeps its long-standing message. Also: the repository's example cassettes say they are
 * scripted, so nobody takes their answers for a real model's.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cassette } from '@keel/schemas';
import { hashRequest } from '../../daemon/src/conductor/models/modelGateway';
import type { ModelRequest } from '../../daemon/src/conductor/models/modelProvider';
import {
  callChanges,
  changedCallMessage,
  promptHash,
  requestSettings,
  type CallFingerprint,
} from '../../daemon/src/conductor/models/requestSettings';

const REPO_ROOT = join(__dirname, '..', '..');

const BASE: Omit<ModelRequest, 'model'> = {
  messages: [{ role: 'user', content: 'One line on retainers.' }],
  maxOutputTokens: 600,
  temperature: 0.2,
};

function asked(
  request: Omit<ModelRequest, 'model'>,
  tier = 'fast',
  model: string | undefined = 'gpt-4o-mini',
): Required<CallFingerprint> {
  return {
    requestHash: hashRequest(request),
    promptHash: promptHash(request.messages),
    settings: requestSettings(tier, model, request),
  };
}

const recorded = asked(BASE);

describe('callChanges', () => {
  it('finds nothing when the same call is made again', () => {
    expect(callChanges(recorded, asked(BASE))).toEqual([]);
  });

  it('names the temperature with its old and new values, and the prompt as unchanged', () => {
    expect(callChanges(recorded, asked({ ...BASE, temperature: 0.9 }))).toEqual([
      'temperature changed from 0.2 to 0.9',
    ]);
    const { temperature: _dropped, ...none } = BASE;
    expect(callChanges(recorded, asked(none))).toEqual([
      "temperature changed from 0.2 to none (the endpoint's default)",
    ]);
  });

  it("names the tier and the model sent, and a tier's new model in keel.yaml", () => {
    expect(callChanges(recorded, asked(BASE, 'strong', 'gpt-4o'))).toEqual([
      'model tier changed from fast to strong',
      'model changed from gpt-4o-mini to gpt-4o',
    ]);
    expect(callChanges(recorded, asked(BASE, 'fast', 'llama3.1:8b'))).toEqual([
      'model changed from gpt-4o-mini to llama3.1:8b',
    ]);
  });

  it('does not compare a model keel.yaml does not name (a test workspace without tiers)', () => {
    expect(callChanges(recorded, asked(BASE, 'fast', undefined))).toEqual([]);
  });

  it('names max tokens, the answer schema and the tools', () => {
    expect(callChanges(recorded, asked({ ...BASE, maxOutputTokens: 800 }))).toEqual([
      'maxOutputTokens changed from 600 to 800',
    ]);
    const schema = { name: 'draft', schema: { type: 'object' } };
    const withSchema = asked({ ...BASE, jsonSchema: schema });
    expect(callChanges(recorded, withSchema)).toEqual([
      'the response format changed from text to json_schema',
    ]);
    expect(
      callChanges(withSchema, asked({ ...BASE, jsonSchema: { ...schema, schema: { type: 'array' } } })),
    ).toEqual(['the answer schema changed']);

    const tool = (name: string, description = name) => ({
      type: 'function' as const,
      function: { name, description, parameters: { type: 'object' } },
    });
    const withTools = asked({ ...BASE, tools: [tool('memory_search'), tool('outbox_write')] });
    expect(
      callChanges(withTools, asked({ ...BASE, tools: [tool('memory_search'), tool('mail_send')] })),
    ).toEqual(['the tools changed (added mail_send; removed outbox_write)']);
    expect(
      callChanges(
        withTools,
        asked({ ...BASE, tools: [tool('memory_search'), tool('outbox_write', 'Writes.')] }),
      ),
    ).toEqual(["the tools' definitions changed"]);
  });

  it('says the prompt changed beside a setting that changed with it', () => {
    const other = { ...BASE, messages: [{ role: 'user' as const, content: 'Two lines on retainers.' }] };
    expect(callChanges(recorded, asked(other))).toEqual(['the prompt changed']);
    expect(callChanges(recorded, asked({ ...other, temperature: 0.9 }))).toEqual([
      'the prompt changed',
      'temperature changed from 0.2 to 0.9',
    ]);
  });

  it('compares only the request hash of a call recorded before Keel kept settings', () => {
    const old = { requestHash: recorded.requestHash };
    expect(callChanges(old, asked({ ...BASE, temperature: 0.9 }, 'strong', 'gpt-4o'))).toEqual([]);
    const other = { ...BASE, messages: [{ role: 'user' as const, content: 'Something else.' }] };
    expect(callChanges(old, asked(other))).toEqual(['the prompt changed']);
  });
});

describe('changedCallMessage', () => {
  const since = 'runbooks/tests/cassettes/x.json was recorded';

  it('keeps the long-standing message for a prompt change alone', () => {
    expect(changedCallMessage('plan', 0, ['the prompt changed'], since)).toBe(
      'the prompt of step "plan" (call 1) changed since runbooks/tests/cassettes/x.json was recorded',
    );
  });

  it('names the step, the call and each setting', () => {
    expect(changedCallMessage('draft', 1, ['temperature changed from 0.2 to 0.9'], since)).toBe(
      'step "draft" (call 2): temperature changed from 0.2 to 0.9 since runbooks/tests/cassettes/x.json was recorded',
    );
  });
});

describe("the repository's example cassettes", () => {
  it('are labelled scripted, and every answer keeps the settings it was asked with', async () => {
    const folder = join(REPO_ROOT, 'runbooks/tests/cassettes');
    const names = (await readdir(folder)).filter((name) => name.endsWith('.json'));
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const cassette = Cassette.parse(JSON.parse(await readFile(join(folder, name), 'utf8')));
      expect([name, cassette.source]).toEqual([name, 'scripted']);
      expect(cassette.reportedModels, name).toBeUndefined();
      for (const entry of cassette.entries) {
        expect(entry.settings, `${name} ${entry.stepId}`).toMatchObject({ model: expect.any(String) });
        expect(entry.promptHash, `${name} ${entry.stepId}`).toEqual(expect.any(String));
      }
    }
  });
});
