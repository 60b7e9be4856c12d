/**
 * How a Keel protocol message is declared: one object per method, holding its name, direction,
 * zod schemas and doc comment. Daemon, extension, CLI and tests all import these objects, so no
 * method name is ever a bare string anywhere else.
 *
 * The protocol's schemas are written `z.lazy(() => ...)`: one command uses a few of its 70-odd
 * messages, and building all their schemas at every start (some 4,900 zod constructor calls)
 * kept each command, `keel run`'s first step and the daemon's start waiting 20-25 ms more (issue
 * 14). A lazy schema is built at its first parse, once, and parses as the schema inside it. Code
 * that extends one or reads its shape does so inside a lazy schema of its own, through `unwrap()`
 * (`StoredProposal`); the two the conductor's journal records extend as they are built
 * (`RunStatus`, `CompensationLine`) stay plain, as the journal needs them at every run.
 */
import type { z } from 'zod';

/** Who sends the message. */
export type MessageDirection = 'clientToServer' | 'serverToClient';

export interface RequestDefinition<P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  readonly kind: 'request';
  readonly method: `keel/${string}`;
  readonly direction: MessageDirection;
  readonly params: P;
  readonly result: R;
}

export interface NotificationDefinition<P extends z.ZodType = z.ZodType> {
  readonly kind: 'notification';
  readonly method: `keel/${string}`;
  readonly direction: MessageDirection;
  readonly params: P;
}

export type MessageDefinition = RequestDefinition | NotificationDefinition;

export type ParamsOf<T extends MessageDefinition> = z.input<T['params']>;
export type ResultOf<T extends RequestDefinition> = z.output<T['result']>;

export function defineRequest<P extends z.ZodType, R extends z.ZodType>(definition: {
  method: `keel/${string}`;
  direction?: MessageDirection;
  params: P;
  result: R;
}): RequestDefinition<P, R> {
  return { kind: 'request', direction: 'clientToServer', ...definition };
}

export function defineNotification<P extends z.ZodType>(definition: {
  method: `keel/${string}`;
  direction: MessageDirection;
  params: P;
}): NotificationDefinition<P> {
  return { kind: 'notification', ...definition };
}
