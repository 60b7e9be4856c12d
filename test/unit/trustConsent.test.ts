/**
 * The editor's side of workspace trust: when Keel asks, what the prompt names, what a NotTrusted
 * answer turns into, where a key is kept, and what the sidebar says.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, KeelRpcError, type TrustState } from '@keel/schemas';
import {
  apiKeySecretName,
  consentPrompt,
  isApiKeySecretName,
  modelsOrigin,
  notTrustedMessage,
  notTrustedState,
  shouldAskForConsent,
  UNSCOPED_KEY_SECRET,
} from '../../extension/src/trust/trustModel';
import { sidebarTrust, TRUST_LABELS } from '../../extension/src/sidebar/webview/trustStanding';

const hostile: TrustState = {
  trusted: false,
  workspace: '/home/maya/cloned',
  endpoints: [
    { purpose: 'models', origin: 'http://127.0.0.1:4010', apiKeyEnv: 'KEEL_E2E_FAKE_SECRET' },
    { purpose: 'embeddings', origin: 'http://127.0.0.1:4011', apiKeyEnv: 'KEEL_E2E_FAKE_SECRET' },
  ],
  triggers: [{ id: 't1', runbook: 'exfiltrate', kind: 'schedule', spec: '* * * * *', consented: false }],
  rules: [],
  wantsHash: 'h1',
  grantedAt: null,
  summary: '',
};

describe('the consent prompt', () => {
  it('names every origin, key variable and trigger the workspace wants', () => {
    const { message, detail } = consentPrompt(hostile);
    expect(message).toMatch(/^Keel: Trust this workspace\?/);
    expect(detail).toContain('/home/maya/cloned wants to:');
    expect(detail).toContain(
      'http://127.0.0.1:4010 with the value of the environment variable KEEL_E2E_FAKE_SECRET',
    );
    expect(detail).toContain('embeddings requests (indexing and search) to http://127.0.0.1:4011');
    expect(detail).toContain('Start runbook "exfiltrate" by itself on the schedule "* * * * *".');
  });

  it('says why it asks again once the settings changed after a grant', () => {
    const changed = { ...hostile, grantedAt: '2026-12-01T08:00:00.000Z', wantsHash: 'h2' };
    expect(consentPrompt(changed).message).toMatch(/changed since you trusted it/);
  });

  it('asks only in a folder VS Code trusts, about an untrusted workspace, once per set of settings', () => {
    const none = new Set<string>();
    expect(shouldAskForConsent({ editorTrusted: true, state: hostile, declined: none })).toBe(true);
    expect(shouldAskForConsent({ editorTrusted: false, state: hostile, declined: none })).toBe(false);
    expect(shouldAskForConsent({ editorTrusted: true, state: null, declined: none })).toBe(false);
    const consented = hostile.triggers.map((trigger) => ({ ...trigger, consented: true }));
    const trusted = { ...hostile, trusted: true, grantedAt: 'x', triggers: consented };
    expect(shouldAskForConsent({ editorTrusted: true, state: trusted, declined: none })).toBe(false);
    // Trusted, but a new trigger waits for consent: asked.
    const newTrigger = {
      ...trusted,
      triggers: [...consented, { ...hostile.triggers[0]!, id: 't2', consented: false }],
    };
    expect(shouldAskForConsent({ editorTrusted: true, state: newTrigger, declined: none })).toBe(true);
    const declined = new Set(['h1']);
    expect(shouldAskForConsent({ editorTrusted: true, state: hostile, declined })).toBe(false);
    // A new endpoint or trigger is a new question, even after "Not now".
    expect(
      shouldAskForConsent({ editorTrusted: true, state: { ...hostile, wantsHash: 'h2' }, declined }),
    ).toBe(true);
  });
});

describe('a NotTrusted answer', () => {
  it('carries the trust state to show instead of an error', () => {
    const error = new KeelRpcError(ErrorCodes.NotTrusted, 'not trusted', hostile);
    expect(notTrustedState(error)).toEqual(hostile);
    expect(notTrustedMessage(hostile)).toMatch(
      /not trusted this workspace yet, so Keel sends nothing and runs nothing/,
    );
    expect(notTrustedMessage({ ...hostile, grantedAt: '2026-12-01T08:00:00.000Z' })).toMatch(/changed/);
  });

  it('is told apart from other errors and from a malformed payload', () => {
    expect(notTrustedState(new KeelRpcError(ErrorCodes.InvalidParams, 'bad', hostile))).toBeNull();
    expect(
      notTrustedState(new KeelRpcError(ErrorCodes.NotTrusted, 'not trusted', { trusted: 'no' })),
    ).toBeNull();
    expect(notTrustedState(new Error('not trusted'))).toBeNull();
  });
});

describe('the API key in secret storage', () => {
  it('is kept under its endpoint origin; a key stored without one is a different secret', () => {
    expect(modelsOrigin(hostile)).toBe('http://127.0.0.1:4010');
    expect(modelsOrigin({ ...hostile, endpoints: [] })).toBeNull();
    expect(apiKeySecretName('https://api.openai.com')).toBe('keel.modelApiKey@https://api.openai.com');
    expect(apiKeySecretName('http://127.0.0.1:4010')).not.toBe(apiKeySecretName('https://api.openai.com'));
    expect(isApiKeySecretName(apiKeySecretName('https://api.openai.com'))).toBe(true);
    expect(isApiKeySecretName(UNSCOPED_KEY_SECRET)).toBe(false);
  });
});

describe('the sidebar', () => {
  it('shows Restricted Mode first, then Keel’s own standing', () => {
    const daemon = { trust: hostile } as never;
    expect(sidebarTrust({ editorTrusted: false, daemon })).toBe('restricted');
    expect(sidebarTrust({ editorTrusted: true, daemon })).toBe('not trusted');
    const consented = hostile.triggers.map((trigger) => ({ ...trigger, consented: true }));
    const trusted = { ...hostile, trusted: true, grantedAt: 'x', triggers: consented };
    expect(sidebarTrust({ editorTrusted: true, daemon: { trust: trusted } as never })).toBe('trusted');
    expect(
      sidebarTrust({ editorTrusted: true, daemon: { trust: { ...hostile, grantedAt: 'x' } } as never }),
    ).toBe('asks again');
    expect(sidebarTrust({ editorTrusted: true, daemon: null })).toBe('unknown');
    expect(TRUST_LABELS.restricted).toBe('Restricted Mode');
  });
});
