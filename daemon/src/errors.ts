/**
 * The daemon's domain errors: what went wrong, in the daemon's own words. Domain modules throw
 * these and know nothing of JSON-RPC; the router (rpc/rpcErrors.ts) alone turns each kind into the
 * error code a client sees. A new kind fails the type check until the router gives it a code.
 */
import type { TrustState } from '@keel/schemas';

export type KeelErrorKind =
  'operator' | 'notInitialized' | 'unavailable' | 'notTrusted' | 'trustChanged' | 'alreadyRunning';

export abstract class KeelError extends Error {
  abstract readonly kind: KeelErrorKind;

  constructor(
    message: string,
    /** Structured detail for the client (the trust state a refusal names), sent as it is. */
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/**
 * A request the operator can fix (an unknown run or proposal, a missing input, a decision already
 * taken, a file that is not memory): the message names what to change.
 */
export class OperatorError extends KeelError {
  readonly kind = 'operator';
}

/** The request needs an initialized workspace (a keel.yaml) and there is none. */
export class NotInitialized extends KeelError {
  readonly kind = 'notInitialized';
}

/** A part of the daemon is down for now (the memory plane could not start, its index is rebuilt). */
export class Unavailable extends KeelError {
  readonly kind = 'unavailable';
}

/** The operator has not trusted the workspace (or its settings changed since): `data` says what would be. */
export class NotTrusted extends KeelError {
  readonly kind = 'notTrusted';

  constructor(
    message: string,
    override readonly data: TrustState,
  ) {
    super(message, data);
  }
}

/** A trust grant named settings that changed since they were shown: `data` is the state now. */
export class TrustChanged extends KeelError {
  readonly kind = 'trustChanged';

  constructor(
    message: string,
    override readonly data: TrustState,
  ) {
    super(message, data);
  }
}

/** Another daemon (or keel command) already holds this workspace. */
export class AlreadyRunning extends KeelError {
  readonly kind = 'alreadyRunning';
}
