/**
 * How a Keel protocol message is declared: one object per method, holding its name, direction,
 * zod schemas and doc comment. Daemon, extension, CLI and tests all import these objects, so no
 * method name is ever a bare string anywhere else.
 *
 * The protocol's schemas are written `lazy(() => ...)` (below): one command uses a few of its
 * 70-odd messages, and building all their schemas at every start (5,800 of the 15,350 zod
 * constructor calls a start made) kept each command, `keel run`'s first step and the daemon's
 * start waiting 20-25 ms more (issue 14). A lazy schema is built at its first parse, once, and
 * parses as the schema inside it. Inside a builder another lazy schema is named by what it built,
 * `X.unwrap()`, never by its lazy: zod treats a lazy not built yet as possibly recursive, and a
 * container holding one keeps checking every parse for inputs seen twice (and answers them with
 * one shared object). Code that extends one or reads its shape does so the same way
 * (`StoredProposal`); the two the conductor's journal records extend at their own start
 * (`RunStatus`, `CompensationLine`) stay plain, and so do enums other schemas key records by (a
 * lazy one has no list of values).
 */
import { z } from 'zod';

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

/**
 * `z.lazy` with its builder called once: `unwrap()` gives the one schema it built (zod's own calls
 * the builder again each time), which is what builders of other schemas use.
 */
export function lazy<T extends z.ZodType>(build: () => T): z.ZodLazy<T> {
  let built: T | undefined;
  return z.lazy(() => (built ??= build()));
}
