/** The words CLI and editor use to ask for trust name every origin, key variable and trigger. */
import { describe, expect, it } from 'vitest';
import { describeWants, trustQuestion, trustStanding, WorkspaceConfig, type TrustState } from '@keel/schemas';
import { wantsOf } from '../../daemon/src/trust/wants';

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

describe('describeRule', () => {
  it('words the action policy (rules, lists, MCP tool risks) as the daemon lists it', () => {
    const config = WorkspaceConfig.parse({
      version: 1,
      approvals: {
        rules: [],
        lists: { trustedDomains: ['acme.com', 'beta.io'] },
        actions: [
          { action: 'email.send', when: { to: { in: 'trustedDomains' } }, decide: 'allow' },
          { action: 'email.*', decide: 'deny' },
          { action: '*.*', when: { amount: { gt: 5 } }, decide: 'ask' },
        ],
      },
      connectors: {
        gh: {
          use: 'mcp',
          url: 'https://mcp.example.com/',
          tools: { list: 'read', push: 'internal', wipe: 'irreversible' },
        },
      },
    });
    const { rules } = wantsOf(config, []);
    expect(describeWants({ endpoints: [], triggers: [], rules }).slice(1)).toEqual([
      'Run the connector action email.send at once, without asking you, when to in trustedDomains (keel.yaml approvals.actions, rule 1; the first rule that matches decides).',
      'Refuse the connector action email.* (keel.yaml approvals.actions, rule 2; the first rule that matches decides).',
      'Ask you before the connector action *.*, when amount gt 5 (keel.yaml approvals.actions, rule 3; the first rule that matches decides).',
      'Count acme.com, beta.io in the list "trustedDomains" that keel.yaml\'s action rules test (for example the domains mail may go to without asking you).',
      'Treat the tool "list" of the MCP server "gh" as read-only: agents call it at once, without asking you.',
      'Treat the tool "push" of the MCP server "gh" as internal (it changes nothing outside the workspace): agents call it without asking you.',
      'Treat the tool "wipe" of the MCP server "gh" as irreversible: agents ask you before each call, unless an action rule allows it.',
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
