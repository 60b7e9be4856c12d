/**
 * http@1's actions: `get` (read) and `post`, `put`, `delete` (external: seen outside, so they ask
 * the operator unless a keel.yaml rule allows them). Writes carry `Idempotency-Key` from the run
 * and step, so a provider that honours it does a retried write once. An answer that does not
 * match `responseSchema` fails the step naming the field.
 */
import { parse as parseYaml, stringify } from 'yaml';
import { z } from 'zod';
import { ActionInputError, type ActionContext, type ConnectorAction, type ReviewDocument } from '../sdk';
import { SchemaRef, schemaOf, settings } from './config';
import { responseCheck } from './responseSchema';
import { HttpError, send, type HttpAnswer } from './send';
import { resolveTarget } from './target';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const common = {
  /** Relative to baseUrl (or to `host`); never a scheme, host or `..`. */
  path: z.string().min(1).max(2048),
  query: z.record(z.string(), z.union([scalar, z.array(scalar)])).optional(),
  /** One of keel.yaml's `hosts` (an origin); default baseUrl. */
  host: z.string().optional(),
  /** A JSON Schema the answer must match, or the name of one under the connector's `schemas:`. */
  responseSchema: SchemaRef.optional(),
};
const readInput = z.strictObject(common);
const writeInput = z.strictObject({ ...common, body: z.unknown().optional() });
type WriteInput = z.infer<typeof writeInput>;

const output = z.object({ status: z.number(), contentType: z.string().nullable(), body: z.unknown() });
type Output = z.infer<typeof output>;

async function perform(method: string, input: WriteInput, ctx: ActionContext): Promise<Output> {
  const answer = await checkedRequest(method, input, ctx);
  return { status: answer.status, contentType: answer.contentType, body: answer.body };
}

/**
 * Sends one request of an action (or the probe) and checks its answer against `responseSchema`:
 * a mismatch throws naming the field. The whole answer comes back (the probe reads `server`).
 */
export async function checkedRequest(
  method: string,
  input: WriteInput,
  ctx: ActionContext,
): Promise<HttpAnswer> {
  const config = settings(ctx);
  const url = resolveTarget(config, input.path, input.query, input.host);
  const schema = input.responseSchema !== undefined ? schemaOf(input.responseSchema, config) : null;
  const name = typeof input.responseSchema === 'string' ? ` "${input.responseSchema}"` : '';
  let check: ((value: unknown) => string | null) | null = null;
  try {
    check = schema ? responseCheck(schema) : null;
  } catch (error) {
    throw new HttpError(
      `http@1 ${method} ${url.pathname}: nothing was sent: ${(error as Error).message}${name}`,
    );
  }
  const answer = await send(ctx, config, {
    method,
    url,
    ...(input.body !== undefined ? { body: input.body } : {}),
    ...(method !== 'GET' ? { idempotencyKey: ctx.idempotencyKey } : {}),
  });
  if (check) {
    if (!answer.json) {
      throw new HttpError(
        `http@1 ${method} ${url.pathname}: the answer is ${answer.contentType ?? 'without a content type'}, not JSON, so it cannot match the schema${name}`,
      );
    }
    const mismatch = check(answer.body);
    if (mismatch) {
      throw new HttpError(
        `http@1 ${method} ${url.pathname}: the answer does not match the schema${name}: ${mismatch}`,
      );
    }
  }
  return answer;
}

function review(method: string) {
  return (input: WriteInput): ReviewDocument => ({
    title: `${method} ${input.host ?? ''}${input.path}`,
    language: 'yaml',
    text: stringify({ method, ...input }),
  });
}

/** The edited YAML as this action's input again (the method cannot be changed by editing). */
function fromReview(method: string) {
  return (text: string): WriteInput => {
    const edited: unknown = parseYaml(text);
    if (typeof edited !== 'object' || edited === null) {
      throw new ActionInputError(`the edited ${method} is not a YAML mapping`);
    }
    const { method: _method, ...rest } = edited as Record<string, unknown>;
    const parsed = writeInput.safeParse(rest);
    if (!parsed.success)
      throw new ActionInputError(`the edited ${method} is not valid: ${parsed.error.message}`);
    return parsed.data;
  };
}

export const getAction: ConnectorAction<z.infer<typeof readInput>, Output> = {
  description:
    'GET a path of the allow-listed API; the JSON answer, checked against responseSchema when given.',
  risk: 'read',
  input: readInput,
  output,
  perform: (input, ctx) => perform('GET', input, ctx),
  review: review('GET'),
};

function write(method: 'POST' | 'PUT' | 'DELETE', what: string): ConnectorAction<WriteInput, Output> {
  return {
    description: `${method} ${what} to a path of the allow-listed API, with an Idempotency-Key from the run and step.`,
    risk: 'external',
    input: writeInput,
    output,
    perform: (input, ctx) => perform(method, input, ctx),
    review: review(method),
    fromReview: fromReview(method),
  };
}

export const postAction = write('POST', 'a JSON body');
export const putAction = write('PUT', 'a JSON body');
export const deleteAction = write('DELETE', 'a request');
