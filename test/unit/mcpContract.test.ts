/**
 * The MCP adapter's contract with `@modelcontextprotocol/server-filesystem`, offline: the recorded
 * stdio exchange (test/unit/recordings/mcp-filesystem.json, re-recorded with `npx tsx
 * test/helpers/mcpRecording.ts`) is answered by a replay process the adapter starts like any
 * server, so its real client (SDK, stdio transport, session) discovers the tools, calls one and
 * probes. A recording that changes (a tool a runbook uses removed, an argument renamed, another
 * protocol version) fails the probe here, by name, before any run meets it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, expect, it } from 'vitest';
import { parseRunbook } from '../../daemon/src/conductor/runbookFile';
import { actionUses } from '../../daemon/src/connectors/actionUses';
import { mcpConnector, McpToolOutput, type McpConnector } from '../../daemon/src/connectors/mcp/mcpConnector';
import { checkSample } from '../../daemon/src/connectors/probeCheck';
import { createLogger } from '../../daemon/src/log';
import {
  MCP_RECORDING,
  probeContext,
  RECORDED_FILE,
  RECORDED_TEXT,
  replayConfig,
  type McpRecording,
} from '../helpers/mcpRecording';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

let dirs: TempDirs | undefined;
let connector: McpConnector | undefined;
afterEach(async () => {
  await connector?.close();
  await dirs?.cleanup();
  connector = dirs = undefined;
});

const recorded = async (): Promise<McpRecording> =>
  JSON.parse(await readFile(MCP_RECORDING, 'utf8')) as McpRecording;

/** A runbook that reads the note in a `connector` step and lets an agent list folders. */
const RUNBOOK = `apiVersion: keel/v1
name: read-notes
role: Reader
description: Reads the recorded note.
steps:
  - id: read
    type: connector
    use: files
    action: read_text_file
    with: { path: ${RECORDED_FILE} }
  - id: browse
    type: agent
    goal: Find the other notes.
    tools: [files.list_directory]
`;

function runbookUses() {
  const { runbook, problems } = parseRunbook(RUNBOOK, 'runbooks/read-notes.yaml');
  expect(problems).toEqual([]);
  return actionUses([{ path: 'runbooks/read-notes.yaml', runbook: runbook! }], 'files');
}

/** The connector `files`, its server the replay of `recording`. */
async function replaying(recording: McpRecording): Promise<McpConnector> {
  dirs = await makeTempDirs('keel-mcp-contract-');
  const file = join(dirs.workspace, 'recording.json');
  await writeFile(file, JSON.stringify(recording));
  const log = createLogger({ level: 'error', write: () => undefined });
  connector = mcpConnector('files', replayConfig(file), { log, trust: { allows: () => true } });
  return connector;
}

async function probe(recording: McpRecording) {
  const files = await replaying(recording);
  const uses = runbookUses();
  return files.probe(probeContext(dirs!.workspace, () => Promise.resolve(uses)));
}

/** The recording with its tools/list answer changed by `change`. */
function withTools(recording: McpRecording, change: (tools: Tool[]) => Tool[]): McpRecording {
  return {
    ...recording,
    messages: recording.messages.map((line) => {
      const result = line.message.result as { tools?: Tool[] } | undefined;
      if (line.from !== 'server' || !result?.tools) return line;
      return { ...line, message: { ...line.message, result: { ...result, tools: change(result.tools) } } };
    }),
  };
}

it(
  'discovers the recorded tools, reads the note through read_text_file, and the probe passes',
  { timeout: 30_000 },
  async () => {
    const recording = await recorded();
    const files = await replaying(recording);
    const ctx = probeContext(dirs!.workspace, () => Promise.resolve(runbookUses()));
    const probed = await files.probe(ctx);
    expect(probed).toMatchObject({ ok: true, version: 'secure-filesystem-server 0.2.0, MCP 2025-11-25' });
    expect(probed.detail).toMatch(
      /^secure-filesystem-server 0\.2\.0, MCP 2025-11-25: 14 tools \(read_file, read_text_file/,
    );
    expect(Object.keys(files.actions)).toContain('list_directory');
    const read = files.actions.read_text_file!;
    expect(read.risk).toBe('read');
    expect(read.input.safeParse({ path: RECORDED_FILE }).success).toBe(true);
    expect(read.input.safeParse({ head: 3 }).success).toBe(false); // path is required
    const output = checkSample(
      'files.read_text_file',
      McpToolOutput,
      await read.perform({ path: RECORDED_FILE }, ctx),
    );
    expect(output).toEqual({
      untrusted: true,
      server: 'files',
      tool: 'read_text_file',
      text: RECORDED_TEXT,
      content: [{ type: 'text', text: RECORDED_TEXT }],
      structuredContent: { content: RECORDED_TEXT },
    });
  },
);

it(
  'a tool a runbook uses that the server no longer lists fails the probe naming tool and runbook',
  { timeout: 30_000 },
  async () => {
    const result = await probe(
      withTools(await recorded(), (tools) => tools.filter((t) => t.name !== 'list_directory')),
    );
    expect(result.ok).toBe(false);
    expect(result.detail).toContain(
      'runbooks/read-notes.yaml step "browse" uses the tool "list_directory", which the server no longer lists',
    );
    expect(result.version).toBe('secure-filesystem-server 0.2.0, MCP 2025-11-25');
  },
);

it(
  'a required argument renamed in the tool schema fails the probe naming argument, tool and runbook',
  { timeout: 30_000 },
  async () => {
    const renamed = withTools(await recorded(), (tools) =>
      tools.map((tool) =>
        tool.name !== 'read_text_file'
          ? tool
          : {
              ...tool,
              inputSchema: {
                type: 'object',
                properties: { file: { type: 'string' } },
                required: ['file'],
                additionalProperties: false,
              },
            },
      ),
    );
    const result = await probe(renamed);
    expect(result.ok).toBe(false);
    expect(result.detail).toContain(
      'runbooks/read-notes.yaml step "read" calls the tool "read_text_file" without "file", which the tool now requires',
    );
    expect(result.detail).toContain(
      'gives the tool "read_text_file" "path", which it no longer takes (it takes: file)',
    );
  },
);

it(
  'a protocol version the adapter does not speak fails the probe naming it',
  { timeout: 30_000 },
  async () => {
    const recording = await recorded();
    const changed: McpRecording = {
      ...recording,
      messages: recording.messages.map((line) => {
        const result = line.message.result as { protocolVersion?: string } | undefined;
        if (!result?.protocolVersion) return line;
        return {
          ...line,
          message: { ...line.message, result: { ...result, protocolVersion: '2099-01-01' } },
        };
      }),
    };
    const result = await probe(changed);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(
      /^Cannot start the MCP server "files": Server's protocol version is not supported: 2099-01-01/,
    );
  },
);
