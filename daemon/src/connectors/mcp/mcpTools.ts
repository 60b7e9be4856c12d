/**
 * An MCP tool as a connector action: its input schema as zod, its result as untrusted data, its
 * review document as YAML. Everything a server says (tool descriptions, schemas, results, error
 * texts) is the server's word: kept short, and results are marked untrusted for prompts.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import type { ConnectorAction, ReviewDocument, Risk } from '../sdk';
import { withoutPatterns } from './mcpSchemas';

/** What a tool call returns to the run: the text, and the raw content, as data from outside. */
export const McpToolOutput = z.object({
  /** Always true: the server's answer is data, never instructions (prompts quote it as such). */
  untrusted: z.literal(true),
  server: z.string(),
  tool: z.string(),
  /** The text parts of the answer, joined and shortened to MAX_TEXT characters. */
  text: z.string(),
  /** Each content part; text and binary payloads shortened. */
  content: z.array(z.record(z.string(), z.unknown())),
  structuredContent: z.record(z.string(), z.unknown()).optional(),
});
export type McpToolOutput = z.infer<typeof McpToolOutput>;

const MAX_TEXT = 100_000;
const MAX_DESCRIPTION = 1_000;
const MAX_ERROR = 2_000;

/** A tool's answer `isError: true`: the call happened and failed on the server's side. */
export class McpToolError extends Error {
  override readonly name = 'McpToolError';
}

/**
 * The tool's input schema as zod. The arguments are checked by the server's schema with the
 * linear-time validator (`schemas`), patterns included, so a model's argument cannot stall the
 * daemon on a server's backtracking pattern. The zod shape on top comes from zod 4's
 * `fromJSONSchema` of the schema without its patterns, so the registry can show the same fields in
 * completion and hover as for every other action; a schema it cannot convert (draft features it
 * lacks, `patternProperties`) is a plain record, still checked in full.
 */
export function toolInputSchema(
  tool: Tool,
  schemas: jsonSchemaValidator,
): z.ZodType<Record<string, unknown>> {
  const validate = schemas.getValidator<Record<string, unknown>>(tool.inputSchema);
  return shapeOf(tool).superRefine((value, ctx) => {
    const result = validate(value);
    if (!result.valid) ctx.addIssue({ code: 'custom', message: result.errorMessage });
  });
}

function shapeOf(tool: Tool): z.ZodType<Record<string, unknown>> {
  const plain = withoutPatterns(tool.inputSchema);
  try {
    if (plain)
      return z.fromJSONSchema(plain as Record<string, unknown>) as z.ZodType<Record<string, unknown>>;
  } catch {
    // zod cannot convert it: the linear-time check alone judges the arguments.
  }
  return z.record(z.string(), z.unknown());
}

/** The action for one tool of server `server`; `risk` as the operator classed it in keel.yaml. */
export function toolAction(
  server: string,
  tool: Tool,
  risk: Risk,
  schemas: jsonSchemaValidator,
  call: (
    input: Record<string, unknown>,
    ctx: Parameters<ConnectorAction['perform']>[1],
  ) => Promise<CallToolResult>,
): ConnectorAction<Record<string, unknown>, McpToolOutput> {
  const input = toolInputSchema(tool, schemas);
  return {
    description: `MCP tool "${tool.name}" of the server "${server}": ${shorten(tool.description ?? tool.title ?? '(no description)', MAX_DESCRIPTION)}`,
    risk,
    input,
    output: McpToolOutput,
    async perform(args, ctx) {
      const result = await call(args, ctx);
      const output = toolOutput(server, tool.name, result);
      if (result.isError) {
        throw new McpToolError(
          `The MCP tool ${server}.${tool.name} failed; its answer (the server's words): ${shorten(output.text, MAX_ERROR)}`,
        );
      }
      return output;
    },
    review: (args) => toolReview(server, tool.name, args),
    fromReview(text) {
      const edited = parse(text) as { tool?: unknown; arguments?: unknown } | null;
      if (edited?.tool !== tool.name) {
        throw new Error(`The reviewed document must keep "tool: ${tool.name}"; change only its arguments.`);
      }
      const args = edited.arguments ?? {};
      const checked = input.safeParse(args);
      if (!checked.success) {
        throw new Error(`The edited arguments do not fit the tool: ${z.prettifyError(checked.error)}`);
      }
      return checked.data;
    },
  };
}

export function toolReview(server: string, tool: string, args: Record<string, unknown>): ReviewDocument {
  return {
    title: `MCP ${server}: ${tool}`,
    language: 'yaml',
    text: stringify({ tool, arguments: args }),
  };
}

/** The answer as untrusted data: text parts joined, everything shortened. */
export function toolOutput(server: string, tool: string, result: CallToolResult): McpToolOutput {
  const parts = Array.isArray(result.content) ? result.content : [];
  const text = parts
    .flatMap((part) => (part.type === 'text' && typeof part.text === 'string' ? [part.text] : []))
    .join('\n');
  return {
    untrusted: true,
    server,
    tool,
    text: shorten(text, MAX_TEXT),
    content: parts.map((part) => shortenPart(part as Record<string, unknown>)),
    ...(result.structuredContent ? { structuredContent: result.structuredContent } : {}),
  };
}

function shortenPart(part: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(part).map(([key, value]) => [
      key,
      typeof value === 'string' ? shorten(value, MAX_TEXT) : value,
    ]),
  );
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}
