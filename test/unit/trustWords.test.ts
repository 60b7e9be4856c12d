/** The words CLI and editor use to ask for trust name every origin, key variable and trigger. */
import { describe, expect, it } from 'vitest';
import { describeWants, trustQuestion, trustStanding, type TrustState } from '@keel/schemas';

const hostile: TrustState = {
  trusted: false,
  workspace: '/home/maya/cloned',
  endpoints: [
    { purpose: 'models', origin: 'http://127.0.0.1:4010', apiKeyEnv: 'GITHUB_TOKEN' },
    { purpose: 'embeddings', origin: 'http://127.0.0.1:4010', apiKeyEnv: null },
  ],
  triggers: [
    { id: 'a', runbook: 'exfiltrate', kind: 'schedule', spec: '* * * * *', consented: false },
    { id: 'b', runbook: 'onboard', kind: 'file', spec: 'memory/customers/**', consented: false },
  ],
  rules: ['memory/working/** allow create'],
  wantsHash: 'h1',
  grantedAt: null,
  summary: '',
};

describe('describeWants', () => {
  it('names each endpoint with its origin, purpose and key variable, then each trigger', () => {
    expect(describeWants(hostile)).toEqual([
      'Send model requests (runs) to http://127.0.0.1:4010 with the value of the environment variable GITHUB_TOKEN as its key.',
      'Send embeddings requests (indexing and search) to http://127.0.0.1:4010 without a key.',
      'Start runbook "exfiltrate" by itself on the schedule "* * * * *".',
      'Start runbook "onboard" by itself when files change under "memory/customers/**".',
      "Apply agents' changes without asking you where keel.yaml says: memory/working/** allow create.",
    ]);
  });

  it('says so when the workspace wants nothing beyond this machine', () => {
    expect(describeWants({ endpoints: [], triggers: [], rules: [] })).toEqual([
      'Nothing leaves this machine: no endpoint and no automatic trigger is named.',
    ]);
  });
});

describe('trustStanding', () => {
  it('is restricted before any grant, asks again after the settings changed, trusted after a grant', () => {
    expect(trustStanding(hostile)).toBe('restricted');
    const granted = { ...hostile, grantedAt: '2026-12-01T08:00:00Z' };
    expect(trustStanding(granted)).toBe('asks again');
    expect(trustQuestion(granted)).toMatch(/changed since you trusted/);
    const consented = granted.triggers.map((trigger) => ({ ...trigger, consented: true }));
    expect(trustStanding({ ...granted, trusted: true, triggers: consented })).toBe('trusted');
    // Trusted endpoints, but a new trigger waits, unarmed, for consent: asked again.
    expect(trustStanding({ ...granted, trusted: true })).toBe('asks again');
  });
});
