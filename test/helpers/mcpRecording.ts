/**
 * A recorded stdio exchange between the MCP adapter and the real
 * `@modelcontextprotocol/server-filesystem` (initialize, tools/list, one tools/call), for the
 * offline contract test: the adapter's own probe and tool call run through a relay
 * (mcpReplayServer.ts `record`) that writes every JSON-RPC line; the replay answers them again.
 * The temporary folder the server served is written as /recorded, so a re-recording differs
 * only where the server changed.
 *
 *   npx tsx test/helpers/mcpRecording.ts   # re-records test/unit/recordings/mcp-filesystem.json
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'prettier';
import { mcpConnector } from '../../daemon/src/connectors/mcp/mcpConnector';
import type { ProbeContext } from '../../daemon/src/connectors/sdk';
import { createLogger } from '../../daemon/src/log';
import type { RecordedLine } from './mcpReplayServer';
import { REPO_ROOT } from './processes';
import { makeTempDirs } from './workspace';

export const MCP_RECORDING = join(REPO_ROOT, 'test', 'unit', 'recordings', 'mcp-filesystem.json');
/** The file the recorded tools/call reads, relative to the folder the server serves, and its text. */
export const RECORDED_FILE = 'notes.md';
export const RECORDED_TEXT = 'Recorded note: the contract says May.\n';

const REPLAY_SERVER = join(REPO_ROOT, 'test', 'helpers', 'mcpReplayServer.ts');
const FILESYSTEM_PACKAGE = join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem');
/** tsx by its file URL: the server starts in a temporary folder, where `tsx` does not resolve. */
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface McpRecording {
  /** The package that answered, with its version. */
  server: string;
  /** Every JSON-RPC line that crossed stdio, in order. */
  messages: RecordedLine[];
}

/** keel.yaml's entry for a server that is the replay of `file` (a recording, maybe changed). */
export function replayConfig(file: string): Record<string, unknown> {
  return {
    use: 'mcp',
    command: [process.execPath, '--import', TSX, REPLAY_SERVER, 'replay', file],
    tools: { read_text_file: 'read' },
    startTimeoutMs: 20_000,
  };
}

/** The context a probe or call runs with: no credentials, nothing else needed. */
export function probeContext(
  workspace: string,
  uses?: ProbeContext['uses'],
): ProbeContext & { idempotencyKey: string } {
  return {
    workspace,
    idempotencyKey: 'contract',
    credential: (name) => {
      throw new Error(`no credential ${name} in a contract test`);
    },
    config: {},
    signal: new AbortController().signal,
    ...(uses ? { uses } : {}),
  };
}

/** Runs the adapter's probe and one read_text_file against the real server through the relay. */
async function record(): Promise<void> {
  const dirs = await makeTempDirs('keel-mcp-record-');
  const served = join(dirs.workspace, 'data');
  await mkdir(served);
  await writeFile(join(served, RECORDED_FILE), RECORDED_TEXT);
  const raw = join(dirs.workspace, 'raw.json');
  const server = join(FILESYSTEM_PACKAGE, 'dist', 'index.js');
  const log = createLogger({ level: 'warn', write: (line) => process.stderr.write(`${line}\n`) });
  const connector = mcpConnector(
    'files',
    {
      use: 'mcp',
      command: [
        process.execPath,
        '--import',
        TSX,
        REPLAY_SERVER,
        'record',
        raw,
        '--',
        process.execPath,
        server,
        '.',
      ],
      cwd: 'data',
      tools: { read_text_file: 'read' },
    },
    { log, trust: { allows: () => true } },
  );
  const ctx = probeContext(dirs.workspace);
  const probe = await connector.probe(ctx);
  if (!probe.ok) throw new Error(`the probe failed while recording: ${probe.detail}`);
  await connector.actions.read_text_file!.perform({ path: RECORDED_FILE }, ctx);
  await connector.close();
  const { version } = JSON.parse(await readFile(join(FILESYSTEM_PACKAGE, 'package.json'), 'utf8')) as {
    version: string;
  };
  const lines = (JSON.parse(await readFile(raw, 'utf8')) as { messages: RecordedLine[] }).messages;
  const recording: McpRecording = {
    server: `@modelcontextprotocol/server-filesystem@${version}`,
    messages: lines,
  };
  const text = JSON.stringify(recording).split(served).join('/recorded');
  // Written as `npm run lint` wants it, so a re-recording is committed as it comes.
  await writeFile(MCP_RECORDING, await format(text, { parser: 'json' }));
  await dirs.cleanup();
  process.stdout.write(`recorded ${lines.length} lines to ${MCP_RECORDING} (${probe.version})\n`);
}

if (require.main === module) {
  record().catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
