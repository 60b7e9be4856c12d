/** The model API key never reaches Keel's log, even with the protocol trace at its most verbose. */
import { describe, expect, it } from 'vitest';
import type * as vscode from 'vscode';
import { redactingChannel } from '../../extension/src/redactingChannel';

function fakeChannel(): { channel: vscode.LogOutputChannel; written: string[] } {
  const written: string[] = [];
  const write = (text: unknown): void =>
    void written.push(text instanceof Error ? text.message : String(text));
  const channel = {
    name: 'Keel',
    logLevel: 1,
    trace: write,
    debug: write,
    info: write,
    warn: write,
    error: write,
    append: write,
    appendLine: write,
    replace: write,
  } as unknown as vscode.LogOutputChannel;
  return { channel, written };
}

describe('redacting channel', () => {
  it('blanks out the key in every kind of line written through it', () => {
    const { channel, written } = fakeChannel();
    const key = 'sk-test-0123456789';
    const redacting = redactingChannel(channel, () => key);
    const params = `Params: ${JSON.stringify({ apiKey: key })}`;
    redacting.trace(`Sending request 'keel/models/setApiKey - (7)'.\n${params}`);
    redacting.debug(params);
    redacting.info(params);
    redacting.warn(params);
    redacting.error(new Error(params));
    redacting.appendLine(params);
    expect(written).toHaveLength(6);
    for (const line of written) {
      expect(line).not.toContain(key);
      expect(line).toContain('«redacted»');
    }
  });

  it('passes text through unchanged while there is no key', () => {
    const { channel, written } = fakeChannel();
    redactingChannel(channel, () => null).trace('Received notification keel/runs/changed');
    expect(written).toEqual(['Received notification keel/runs/changed']);
  });
});
