/**
 * The daemon's one typed router. Transports (the LSP connection, the JSON-RPC socket, the CLI's
 * in-process client) hand it a method name and raw params; it validates the params with the
 * method's zod schema, runs the handler and checks the result against the declared schema. It is
 * also where errors become JSON-RPC errors: params that fail their schema answer InvalidParams, a
 * domain error its kind's code (rpcErrors.ts), anything else InternalError.
 */
import { z } from 'zod';
import { ErrorCodes, KeelRpcError, type RequestDefinition, type ResultOf } from '@keel/schemas';
import { rpcErrorOf } from './rpcErrors';

export interface CallContext {
  /** Which transport the call came in on, for the log. */
  readonly transport: 'lsp' | 'socket' | 'in-process';
}

type Handler<T extends RequestDefinition> = (
  params: z.output<T['params']>,
  context: CallContext,
) => Promise<ResultOf<T>> | ResultOf<T>;

interface Route {
  readonly definition: RequestDefinition;
  readonly handler: (params: unknown, context: CallContext) => unknown;
}

export class Router {
  private readonly routes = new Map<string, Route>();

  handle<T extends RequestDefinition>(definition: T, handler: Handler<T>): void {
    if (this.routes.has(definition.method)) {
      throw new Error(`${definition.method} already has a handler`);
    }
    this.routes.set(definition.method, {
      definition,
      handler: handler as Route['handler'],
    });
  }

  methods(): string[] {
    return [...this.routes.keys()];
  }

  /** Runs a request. Throws `KeelRpcError` for anything the caller should see as a JSON-RPC error. */
  async dispatch(method: string, rawParams: unknown, context: CallContext): Promise<unknown> {
    const route = this.routes.get(method);
    if (!route) throw new KeelRpcError(ErrorCodes.MethodNotFound, `Unknown method ${method}`);
    const params = route.definition.params.safeParse(rawParams ?? undefined);
    if (!params.success) {
      throw new KeelRpcError(
        ErrorCodes.InvalidParams,
        `Invalid params for ${method}: ${z.prettifyError(params.error)}`,
        { issues: params.error.issues },
      );
    }
    let result: unknown;
    try {
      result = await route.handler(params.data, context);
    } catch (error) {
      throw (
        rpcErrorOf(error) ??
        new KeelRpcError(ErrorCodes.InternalError, `${method} failed: ${(error as Error).message}`)
      );
    }
    const checked = route.definition.result.safeParse(result);
    if (!checked.success) {
      throw new KeelRpcError(
        ErrorCodes.InternalError,
        `${method} produced a result that does not match its schema (a Keel bug): ${z.prettifyError(checked.error)}`,
      );
    }
    return checked.data;
  }
}
