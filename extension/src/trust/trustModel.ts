/**
 * The editor's side of workspace trust, without VS Code: when to ask for Keel's consent, what the
 * prompt says, what a NotTrusted answer carries, and under which secret name a key is kept.
 */
import {
  describeWants,
  ErrorCodes,
  KeelRpcError,
  trustQuestion,
  trustStanding,
  TrustState,
} from '@keel/schemas';

/** The text of the modal consent prompt: the question, then one line per thing the workspace wants. */
export function consentPrompt(state: TrustState): { message: string; detail: string } {
  return {
    message: `Keel: ${trustQuestion(state)}`,
    detail: [
      `${state.workspace} wants to:`,
      ...describeWants(state).map((line) => `• ${line}`),
      '',
      'Keel will send requests only to these origins, with only these keys, and start runs only from these triggers. A change to any of them asks again.',
    ].join('\n'),
  };
}

export interface ConsentInput {
  /** VS Code's Workspace Trust: in Restricted Mode Keel does not even ask. */
  editorTrusted: boolean;
  /** What the daemon last reported, or null (not running, no keel.yaml). */
  state: TrustState | null;
  /** The settings (by `wantsHash`) the operator answered "Not now" to in this window. */
  declined: ReadonlySet<string>;
}

/**
 * Asks when the workspace is not trusted or a new trigger waits for consent, once per window for
 * each set of settings: again only when they change.
 */
export function shouldAskForConsent({ editorTrusted, state, declined }: ConsentInput): boolean {
  if (!editorTrusted || state === null || declined.has(state.wantsHash)) return false;
  return trustStanding(state) !== 'trusted';
}

/** The daemon's TrustState when `error` is its NotTrusted answer, else null. */
export function notTrustedState(error: unknown): TrustState | null {
  if (!(error instanceof KeelRpcError) || error.code !== ErrorCodes.NotTrusted) return null;
  const state = TrustState.safeParse(error.data);
  return state.success ? state.data : null;
}

/** What the operator reads instead of an error toast when the daemon refused for lack of trust. */
export function notTrustedMessage(state: TrustState | null): string {
  const base = 'Keel: you have not trusted this workspace yet, so Keel sends nothing and runs nothing.';
  return state?.grantedAt ? `${base} Its settings changed since you last trusted it.` : base;
}

/** The models endpoint's origin, the one origin a key from the editor is stored and sent for. */
export function modelsOrigin(state: TrustState | null | undefined): string | null {
  return state?.endpoints.find((endpoint) => endpoint.purpose === 'models')?.origin ?? null;
}

/** A key stored before keys were tied to an origin: never sent anywhere. */
export const UNSCOPED_KEY_SECRET = 'keel.modelApiKey';
const KEY_SECRET_PREFIX = 'keel.modelApiKey@';

/** The secret storage name of the key for `origin` (`scheme://host:port`). */
export function apiKeySecretName(origin: string): string {
  return `${KEY_SECRET_PREFIX}${origin}`;
}

export function isApiKeySecretName(name: string): boolean {
  return name.startsWith(KEY_SECRET_PREFIX);
}
