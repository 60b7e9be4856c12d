/**
 * The connector SDK's types, copied from the shared sketch so this branch builds; the `sdk` branch owns
 * this file and its version wins the merge.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the sketch's defaults (`ConnectorAction<I = any, O = any>`) let a registry hold actions of any input and output; the sdk branch decides their final form */
import type { z } from 'zod';
export type Risk = 'read' | 'internal' | 'external' | 'irreversible';

/** What an action sees when it runs. */
export interface ActionContext {
  workspace: string; // absolute workspace root
  idempotencyKey: string; // stable across retries and daemon restarts (derived from run + step [+ call])
  credential(name: string): string; // resolves a credential named by the connector's config; throws a clear error if unset
  config: Record<string, unknown>; // this connector's settings from keel.yaml (`connectors: <name>: {...}`), already validated by `configSchema`
  signal: AbortSignal;
}

/** A document the operator reads and may edit before approving (an email as headers + body, an event as YAML). */
export interface ReviewDocument {
  title: string;
  language: 'email' | 'yaml' | 'markdown';
  text: string;
}

export interface ConnectorAction<I = any, O = any> {
  description: string;
  risk: Risk;
  input: z.ZodType<I>;
  output: z.ZodType<O>;
  /** The provider-side idempotency key; default: ctx.idempotencyKey. */
  idempotencyKey?(input: I, ctx: ActionContext): string;
  /** Runs the action. Must be safe to call again with the same key when `find` says it did not happen. */
  perform(input: I, ctx: ActionContext): Promise<O>;
  /** After a crash between intent and result: asks the provider whether the action with this key happened. */
  find?(input: I, ctx: ActionContext): Promise<O | null>;
  /** Compensation: the action (of the same connector) and its input that undo this one. */
  undo?: { action: string; input(input: I, output: O): unknown };
  /** How the action is shown for review, and how an edited document becomes the input again. */
  review(input: I): ReviewDocument;
  fromReview?(text: string, original: I): I;
}

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

export interface ProbeResult {
  ok: boolean;
  detail: string;
  version?: string;
  checkedAt: string;
}

export interface Connector {
  id: string; // 'email@1' (name@version)
  description: string;
  configSchema: z.ZodType<Record<string, unknown>>;
  credentials: string[]; // credential names it needs, e.g. ['password']
  actions: Record<string, ConnectorAction>;
  events: Record<string, ConnectorEvent>;
  source?: EventSource;
  probe(ctx: Omit<ActionContext, 'idempotencyKey'>): Promise<ProbeResult>;
}
