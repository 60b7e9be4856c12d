/**
 * Keel as an MCP server (`keel mcp`): the company memory and the run history, read-only, as tools
 * other agents in the editor can call. Every tool only asks the daemon what `keel search`,
 * `keel runs` and `keel show` ask; nothing here writes a note, starts a run or decides anything.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  MemoryGetRequest,
  MemorySearchRequest,
  RunGetRequest,
  RunsListRequest,
  SearchFilter,
  type RunTrace,
} from '@keel/schemas';
import { z } from 'zod';
import { describeTrace, runsTable } from '../cli/runFormat';
import { fenceRunRecord } from '../conductor/steps/freshness';
import { workspaceRelative } from '../files/workspacePaths';
import type { KeelClient } from '../rpc/client';
import { KEEL_VERSION } from '../version';

/** Runs a question against the workspace's daemon (see WorkspaceLease). */
export type AskDaemon = <T>(body: (client: KeelClient) => Promise<T>) => Promise<T>;

const MEMORY_DIR = 'memory/';
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** The server, its four tools registered; connect it to a transport to serve. */
export function keelMcpServer(workspace: string, ask: AskDaemon): McpServer {
  const server = new McpServer(
    { name: 'keel', version: KEEL_VERSION },
    {
      instructions:
        `The memory (notes on customers, decisions, contracts) and run history of the Keel workspace ${workspace}. ` +
        'Search it before answering questions about the company; read a note for its full text.',
    },
  );

  server.registerTool(
    'search_memory',
    {
      title: 'Search company memory',
      description:
        'Hybrid (meaning + words) search of the workspace notes under memory/. Returns the best ' +
        'chunks with their file, line range, heading, frontmatter type, tags, date and whether stale.',
      inputSchema: {
        query: z.string().min(1).max(2_000).describe('what to look for'),
        k: z.number().int().min(1).max(50).default(10).describe('how many results'),
        filter: SearchFilter.unwrap()
          .optional()
          .describe(
            'only notes of a frontmatter type, with any/all of these tags, under a path prefix or glob, dated since/until (30d, 2w, YYYY-MM-DD), or not stale; kind run (past runs: decisions, reasons, outcomes) or any',
          ),
        mode: z.enum(['hybrid', 'vector', 'text']).default('hybrid'),
      },
      annotations: READ_ONLY,
    },
    async ({ query, k, filter, mode }) => {
      const answer = await ask((client) =>
        client.request(MemorySearchRequest, { query, k, mode, ...(filter ? { filter } : {}) }),
      );
      const text = answer.results.length
        ? answer.results
            .map(
              (r, i) =>
                `${i + 1}. ${r.path}:${r.startLine}-${r.endLine}${r.heading ? ` (${r.heading})` : ''}` +
                `${r.date ? ` dated ${r.date}` : ''}` +
                `${r.stale ? ` [stale${r.reviewBy ? `: expired ${r.reviewBy}` : ''}]` : ''}\n` +
                // A past run's record quotes untrusted inputs: fenced as data, as agents get it.
                (r.kind === 'run' ? fenceRunRecord(r.path, r.text) : r.text),
            )
            .join('\n\n')
        : 'No results.';
      return toolAnswer(text, { results: answer.results });
    },
  );

  server.registerTool(
    'read_note',
    {
      title: 'Read a note',
      description: 'The full text and frontmatter of one note, by its workspace-relative path under memory/.',
      inputSchema: { path: z.string().min(1).describe('e.g. memory/customers/acme.md') },
      annotations: READ_ONLY,
    },
    async ({ path }) => {
      const relative = notePath(path);
      // The daemon reads from disk without following a link, and only files its index would hold.
      const note = await ask((client) => client.request(MemoryGetRequest, { path: relative }));
      return toolAnswer(note.content, { ...note });
    },
  );

  server.registerTool(
    'list_runs',
    {
      title: 'List runs',
      description: 'Recent runbook runs, newest first: id, runbook, status, start, cost, error.',
      inputSchema: {
        limit: z.number().int().min(1).max(200).default(20),
        runbook: z.string().min(1).optional().describe('only runs of this runbook'),
      },
      annotations: READ_ONLY,
    },
    async ({ limit, runbook }) => {
      const { runs } = await ask((client) =>
        client.request(RunsListRequest, { limit, ...(runbook ? { runbook } : {}) }),
      );
      return toolAnswer(runs.length ? runsTable(runs) : 'No runs yet.', { runs });
    },
  );

  server.registerTool(
    'show_run',
    {
      title: 'Show a run',
      description: "A run's trace summary: its steps with status, timings, tokens, errors and outputs.",
      inputSchema: { id: z.string().min(1).describe('the run id, from list_runs') },
      annotations: READ_ONLY,
    },
    async ({ id }) => {
      const trace = await ask((client) => client.request(RunGetRequest, { id }));
      return toolAnswer(describeTrace(trace), summary(trace));
    },
  );

  return server;
}

/** A path under memory/, in the workspace's words; anything else is refused before the daemon is asked. */
export function notePath(path: string): string {
  const relative = workspaceRelative(path);
  if (!relative.startsWith(MEMORY_DIR)) {
    throw new Error(`"${path}" is not a note: read_note reads files under ${MEMORY_DIR} only.`);
  }
  return relative;
}

/** The trace without the prompts and answers of each model call: what the run did, not what it said. */
function summary(trace: RunTrace): Record<string, unknown> {
  return {
    run: trace.run,
    runbook: trace.runbook,
    steps: trace.steps.map(({ modelCalls, ...step }) => ({
      ...step,
      modelCalls: modelCalls.length,
      tokens: modelCalls.reduce((n, c) => n + c.inputTokens + c.outputTokens, 0),
    })),
  };
}

function toolAnswer(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}
