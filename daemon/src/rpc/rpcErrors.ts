/**
 * The one place domain errors become JSON-RPC errors. Codes and messages are what clients (the
 * extension, the CLI, scripts) match on, so a kind keeps its code for good.
 */
import { ErrorCodes, KeelRpcError, type ErrorCode } from '@keel/schemas';
import { KeelError, type KeelErrorKind } from '../errors';

const CODES: Record<KeelErrorKind, ErrorCode> = {
  operator: ErrorCodes.InvalidParams,
  notInitialized: ErrorCodes.WorkspaceNotInitialized,
  unavailable: ErrorCodes.MemoryUnavailable,
  notTrusted: ErrorCodes.NotTrusted,
  trustChanged: ErrorCodes.TrustChanged,
  alreadyRunning: ErrorCodes.DaemonAlreadyRunning,
};

/** The JSON-RPC error for a domain error (message and data kept), or null for anything else. */
export function rpcErrorOf(error: unknown): KeelRpcError | null {
  if (error instanceof KeelError) return new KeelRpcError(CODES[error.kind], error.message, error.data);
  return null;
}
