/**
 * An MCP server process for offline contract tests, speaking stdio like any other: in `replay`
 * mode it answers each JSON-RPC request with the recorded answer to the same method (and tool),
 * its id swapped for the caller's, so the adapter's real client (SDK, transport, session) runs
 * against a recording; in `record` mode it relays between the client and a real server, writing
 * every line that crosses to the recording file. Node built-ins only, so it starts quickly.
 *
 *   node --import tsx mcpReplayServer.ts replay FILE
 *   node --import tsx mcpReplayServer.ts record FILE -- COMMAND [ARGS...]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface RecordedLine {
  from: 'client' | 'server';
  message: JsonRpc;
}

interface JsonRpc {
  jsonrpc: '2.0';
  id?: string | number;
  method?: string;
  params?: { name?: string } & Record<string, unknown>;
  result?: unknown;
  error?: unknown;
}

/** The recorded answer to `request`, with `request`'s id; each recorded request answers once. */
export function answerFor(lines: RecordedLine[], used: Set<number>, request: JsonRpc): JsonRpc | null {
  const index = lines.findIndex(
    (line, i) =>
      !used.has(i) &&
      line.from === 'client' &&
      line.message.id !== undefined &&
      line.message.method === request.method &&
      line.message.params?.name === request.params?.name,
  );
  if (index < 0) return null;
  used.add(index);
  const id = lines[index]!.message.id;
  const answer = lines.find(
    (line, i) => i > index && line.from === 'server' && line.message.id === id && !line.message.method,
  );
  return answer ? { ...answer.message, id: request.id! } : null;
}

function replay(file: string): void {
  const { messages } = JSON.parse(readFileSync(file, 'utf8')) as { messages: RecordedLine[] };
  const used = new Set<number>();
  createInterface({ input: process.stdin }).on('line', (text) => {
    const request = JSON.parse(text) as JsonRpc;
    if (request.id === undefined || !request.method) return; // a notification, or an answer
    const answer = answerFor(messages, used, request);
    if (answer) return void process.stdout.write(`${JSON.stringify(answer)}\n`);
    const what = `${request.method}${request.params?.name ? ` ${request.params.name}` : ''}`;
    process.stderr.write(`not in the recording: ${what}\n`);
    const error = { code: -32601, message: `not in the recording: ${what}` };
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: request.id, error })}\n`);
  });
}

/** Relays stdio to `command`, writing every line (both ways) to `file` as it crosses. */
function record(file: string, command: string[]): void {
  const lines: RecordedLine[] = [];
  const keep = (from: RecordedLine['from'], text: string): void => {
    lines.push({ from, message: JSON.parse(text) as JsonRpc });
    writeFileSync(file, JSON.stringify({ messages: lines }));
  };
  const server = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  createInterface({ input: process.stdin }).on('line', (text) => {
    keep('client', text);
    server.stdin.write(`${text}\n`);
  });
  process.stdin.on('end', () => server.stdin.end());
  createInterface({ input: server.stdout }).on('line', (text) => {
    keep('server', text);
    process.stdout.write(`${text}\n`);
  });
  server.on('exit', (code) => process.exit(code ?? 0));
  process.on('SIGTERM', () => server.kill('SIGTERM'));
}

if (require.main === module) {
  const [mode, file, separator, ...command] = process.argv.slice(2);
  if (mode === 'replay' && file) replay(file);
  else if (mode === 'record' && file && separator === '--' && command.length > 0) record(file, command);
  else {
    process.stderr.write('usage: mcpReplayServer.ts replay FILE | record FILE -- COMMAND [ARGS...]\n');
    process.exit(2);
  }
}
