/**
 * The connector SDK: what a versioned adapter to the outside world (`email@1`, `fs.outbox@1`)
 * declares, so the conductor can run its actions exactly once, ask the operator before the risky
 * ones, offer them to agents as tools and complete them in the runbook editor, all from the same
 * schemas. A connector never sees the journal, the approvals or other connectors: the host
 * (registry.ts, conductor/steps/connector.ts) does that around it.
 */
import type { CredentialSource, TrustEndpoint } from '@keel/schemas';
import type { z } from 'zod';

/**
 * How much an action can hurt, which sets who decides when no keel.yaml rule says otherwise:
 * `read` changes nothing (runs at once), `internal` can be undone and is not seen outside (asks
 * unless a rule allows it; fs.outbox's writes are left to the file rules), `external` is seen
 * outside (asks unless a rule allows it), `irreversible` cannot be taken back (always asks unless a
 * rule allows it by name).
 */
export type Risk = 'read' | 'internal' | 'external' | 'irreversible';

/** What an action sees when it runs. */
export interface ActionContext {
  /** Absolute workspace root. */
  workspace: string;
  /** Stable across retries and daemon restarts (derived from run + step [+ call]). */
  idempotencyKey: string;
  /**
   * Resolves a credential named by the connector's `credentials` (from an environment variable or
   * the editor's secret storage, as keel.yaml says); throws a clear error naming keel.yaml if unset.
   */
  credential(name: string): string;
  /** This connector's settings from keel.yaml (`connectors: <name>: {...}`), validated by `configSchema`. */
  config: Record<string, unknown>;
  signal: AbortSignal;
}

/** A document the operator reads and may edit before approving (an email as headers + body, an event as YAML). */
export interface ReviewDocument {
  title: string;
  language: 'email' | 'yaml' | 'markdown';
  text: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds actions of every input and output type
export interface ConnectorAction<I = any, O = any> {
  description: string;
  risk: Risk;
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  /** The provider-side idempotency key; default: ctx.idempotencyKey. */
  idempotencyKey?(input: I, ctx: ActionContext): string;
  /**
   * Runs the action. Must be safe to call again with the same key when `find` says it did not
   * happen. Throws ActionInputError when the input is refused, OutcomeUnknownError when it cannot
   * tell whether the provider did it.
   */
  perform(input: I, ctx: ActionContext): Promise<O>;
  /**
   * After a crash (or a timeout) between intent and result: asks the provider whether the action
   * with this key happened, and its result if so. Asked only then, never before a fresh call. An
   * action without it that was cut off is never performed again unasked: the operator decides.
   */
  find?(input: I, ctx: ActionContext): Promise<O | null>;
  /** Compensation: the action (of the same connector) and its input that undo this one. */
  undo?: { action: string; input(input: I, output: O): unknown };
  /** How the action is shown for review, and how an edited document becomes the input again. */
  review(input: I): ReviewDocument;
  fromReview?(text: string, original: I): I;
  /**
   * What keel.yaml's `approvals.actions` rules see of an input, when not the input itself (so that
   * a rule on `to` reads every recipient of an email, Cc included), and `ask`: why this input
   * waits for the operator even when a rule allows it (an email with attachments). Default: the
   * input, nothing forced.
   */
  policy?(input: I): PolicyView;
}

/** An input as approval rules read it; see ConnectorAction.policy. */
export interface PolicyView {
  arguments: unknown;
  /** Set: an `allow` becomes `ask`, for this reason (`deny` still denies). */
  ask?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds events of every payload type
export interface ConnectorEvent<P = any> {
  description: string;
  payload: z.ZodType<P>;
}

/** An event source: polls/listens and hands each new event with the cursor after it; the host persists the cursor. */
export interface EventSource {
  /** Returns events after `cursor` (null = start from now) and the new cursor. Called by the host on a timer. */
  poll(
    cursor: string | null,
    ctx: Omit<ActionContext, 'idempotencyKey'>,
  ): Promise<{ events: { name: string; id: string; payload: unknown }[]; cursor: string }>;
}

/** A delivery pushed to Keel's webhook listener (`POST /hooks/<instance name>`), as received. */
export interface WebhookDelivery {
  /** The raw body, byte for byte: signatures are computed over it. */
  body: Buffer;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  /** When the listener received it (ms since epoch), for timestamp windows. */
  receivedAt: number;
}

/**
 * A connector that receives pushed events (a Stripe webhook, a signed HTTP callback). The listener
 * hands each delivery to `verify`; what it returns is handled exactly like polled events (one run
 * per trigger and event id, also across restarts and repeated deliveries).
 */
export interface WebhookReceiver {
  /**
   * Checks the delivery's signature (and timestamp window) with the instance's credentials and
   * returns its events; throws WebhookRejected when it must not be accepted.
   */
  verify(
    delivery: WebhookDelivery,
    ctx: Omit<ActionContext, 'idempotencyKey'>,
  ): { events: { name: string; id: string; payload: unknown }[] };
}

/** A delivery refused by `verify`: `status` is the HTTP answer (400 bad body, 401 bad signature, 409 replay). */
export class WebhookRejected extends Error {
  override name = 'WebhookRejected';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Where a runbook of the workspace uses one action of a connector instance: a `connector` step
 * (with the argument names it gives) or an agent step's tool (the model fills the arguments).
 */
export interface ActionUse {
  /** The runbook file, workspace-relative (`runbooks/triage.yaml`). */
  runbook: string;
  step: string;
  action: string;
  /** The argument names a `connector` step gives under `with:`; null for an agent's tool. */
  args: string[] | null;
}

/** What a probe runs with: an action's context without a key, and the runbooks' uses of it. */
export interface ProbeContext extends Omit<ActionContext, 'idempotencyKey'> {
  /**
   * The workspace's runbooks' uses of this instance's actions, when the host knows its runbooks: a
   * connector whose actions a server lists (MCP) checks them against what it lists now.
   */
  uses?(): Promise<ActionUse[]>;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
  version?: string;
  checkedAt: string;
}

export interface Connector {
  /** `name@version`: `email@1`. A new version is a new connector; runbooks name the one they were written for. */
  id: string;
  description: string;
  configSchema: z.ZodType<Record<string, unknown>>;
  /** Credential names it needs, e.g. `['password']`; keel.yaml says where each comes from. */
  credentials: string[];
  /**
   * Of `credentials`, those keel.yaml may leave out (http@1's `token` for a public API, its
   * `webhookSecret` when it receives no webhooks); an action that needs one unset fails naming it.
   */
  optionalCredentials?: string[];
  actions: Record<string, ConnectorAction>;
  events: Record<string, ConnectorEvent>;
  source?: EventSource;
  webhook?: WebhookReceiver;
  probe(ctx: ProbeContext): Promise<ProbeResult>;
  /**
   * For a connector whose actions are discovered, not declared (an MCP server's tools): lists
   * them into `actions`. Hosts await it before reading `actions` (runs, agent tools, the editor);
   * it lists once, and after a failure the next call tries again.
   */
  prepare?(ctx: Omit<ActionContext, 'idempotencyKey'>): Promise<void>;
  /** False while a discovering connector's `actions` are not listed yet; absent means always known. */
  readonly actionsKnown?: boolean;
  /** What the operator consents to before it starts or calls anything (an MCP server's command line). */
  readonly endpoint?: TrustEndpoint;
  /**
   * Where an instance with these settings would connect and send its credentials (an email
   * account's IMAP and SMTP servers). The operator consents to each before the host lets any of
   * the instance's actions, probes or event sources run (see WorkspaceConnectors).
   */
  trustEndpoints?(
    config: Record<string, unknown>,
    credentials: Record<string, CredentialSource>,
  ): TrustEndpoint[];
}

/**
 * The action a connector declares under this name, or null. An own property only: a runbook's
 * `action: constructor` or a tool named `toString` is "no action", never an Object method.
 */
export function actionOf(connector: Pick<Connector, 'actions'>, name: string): ConnectorAction | null {
  return Object.hasOwn(connector.actions, name) ? (connector.actions[name] ?? null) : null;
}

/**
 * The action was refused for its input (a missing attachment, an argument the provider rejects)
 * and did not happen: trying the same input again cannot succeed, so the step is not retried.
 */
export class ActionInputError extends Error {
  override name = 'ActionInputError';
}

/**
 * The call ended without an answer (a timeout, a dropped connection): the action may or may not
 * have happened. The host leaves its intent open, so the next attempt asks the provider (`find`)
 * first; an action without `find` is not tried again blindly but left to the operator.
 */
export class OutcomeUnknownError extends Error {
  override name = 'OutcomeUnknownError';
}
