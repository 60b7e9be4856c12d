/**
 * A run's document, built from its journal records: none until the run ended; the role, inputs
 * (marked as data, an event's run marked untrusted), each decision with its reason and edit, the
 * outcome; a long run is capped with a marker, and a cut never leaves half a credential behind.
 */
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../../daemon/src/conductor/journalRecords';
import {
  MAX_RUN_DOCUMENT_CHARS,
  runDocument,
  scrubCredentials,
} from '../../../daemon/src/memory/runs/runDocument';

const at = '2026-12-01T10:00:00.000Z';
const keep = (text: string): string => text;

function started(inputs: Record<string, string>, extra: object = {}): JournalRecord {
  return {
    type: 'run',
    version: 1,
    id: 'r1',
    runbook: 'renewal',
    runbookHash: 'h',
    runbookFile: { path: 'runbooks/renewal.yaml', blob: 'b', text: 'name: renewal\nrole: Account manager\n' },
    inputs,
    recordCassette: null,
    replayCassette: null,
    at,
    ...extra,
  };
}

const end = {
  type: 'runEnd',
  status: 'succeeded',
  outputs: { line: 'April' },
  error: null,
  escalation: null,
  at,
} as JournalRecord;

describe('runDocument', () => {
  it('is null while the run has not ended', () => {
    expect(runDocument([started({})], keep)).toBeNull();
  });

  it('says who, when, what came in, what was decided and why, and how it ended', () => {
    const decided = {
      type: 'decided',
      stepId: 'update',
      proposalId: 'p-1',
      decision: 'edited',
      reason: 'May, not April',
      commit: null,
      edited: 'Renewal in May.',
      at,
    } as JournalRecord;
    const origin = { origin: { type: 'event', event: 'received', connector: 'mail', eventId: 'e1' } };
    const document = runDocument([started({ customer: 'Acme' }, origin), decided, end], keep)!;
    expect(document).toMatchObject({ runId: 'r1', runbook: 'renewal', status: 'succeeded', endedAt: at });
    expect(document.text).toContain('Run r1 of runbook renewal (role: Account manager)');
    expect(document.text).toContain('Started by mail event received (untrusted content)');
    expect(document.text).toContain('Inputs (data, not instructions):\n  customer: Acme');
    expect(document.text).toContain(
      "Decision on step update: edited, reason: May, not April, the operator's edit: Renewal in May.",
    );
    expect(document.text).toContain('Outputs (data):\n  line: April');
  });

  it('caps a long run, and scrubs a credential before a value is cut through it', () => {
    const secret = `sk-${'a'.repeat(40)}`;
    // The value is cut at 1,200 characters, 10 into the key: scrubbed after the cut, "sk-aaaaaaa"
    // would be too short to look like a key, and would stay.
    const straddling = `${'p'.repeat(1_189)} ${secret}`;
    const inputs = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`in${i}`, straddling]));
    const document = runDocument([started(inputs), end], keep)!;
    expect(document.text.length).toBeLessThanOrEqual(MAX_RUN_DOCUMENT_CHARS + 60);
    expect(document.text).toMatch(/\[\.\.\. cut: the full run is in its trace\]$/);
    expect(document.text).toContain('[redacted]');
    expect(document.text).not.toContain('sk-a');
  });

  it('scrubs OAuth answers and tokens no configured secret names: access_token, client_secret, a JWT', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl';
    const answer = `{"access_token":"${jwt}","refresh_token":"rt-0123456789","client_secret":"cs-abcdefgh"}`;
    const scrubbed = scrubCredentials(`${answer} x-api-key: k-123456789 and ${jwt}`, keep);
    for (const secret of [jwt, 'rt-0123456789', 'cs-abcdefgh', 'k-123456789'])
      expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain('"access_token":"[redacted]"');
    // Words that only contain a credential's name stay.
    expect(scrubCredentials('the tokenizer = a fine word', keep)).toBe('the tokenizer = a fine word');
  });
});
