/**
 * How a Keel protocol message is declared: one object per method, holding its name, direction,
 * zod schemas and doc comment. Daemon, extension, CLI and tests all import these objects, so no
 * method name is ever a bare string anywhere else.
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
