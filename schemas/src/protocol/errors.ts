/**
 * JSON-RPC error codes the daemon answers with. The standard range is JSON-RPC 2.0's own; Keel's
 * codes sit in the implementation-defined server range (-32000 to -32099).
 */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The socket connection has not authenticated, or sent the wrong token. */
  Unauthorized: -32001,
  /** The method needs an initialized workspace (a `keel.yaml`), and there is none. */
  WorkspaceNotInitialized: -32002,
  /** Another daemon already serves this workspace. */
  DaemonAlreadyRunning: -32004,
  /** The memory plane could not start (its embeddings endpoint is down, a key is missing). */
  MemoryUnavailable: -32005,
  /** The daemon is shutting down and takes no new work. */
  ShuttingDown: -32003,
  /**
   * The operator has not trusted this workspace yet (or its endpoints changed since): nothing is
   * sent, run or applied until they do. `data` is the `TrustState`, naming what would be allowed.
   */
  NotTrusted: -32006,
  /** A trust grant named settings that changed since they were shown; show them again. */
  TrustChanged: -32007,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * An error answered by the daemon, as every client sees it: the JSON-RPC code, a message meant for
 * the operator, and optional structured data (zod issues for invalid params).
 */
export class KeelRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'KeelRpcError';
  }
}
