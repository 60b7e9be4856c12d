/**
 * `keel search "QUERY"` and `keel search --batch FILE`: hybrid search of the workspace memory.
 * A batch reads JSON Lines `{"id", "query", "k"?, "filter"?}` and writes one JSON line
 * `{"id", "results"}` per query, all through one connection. `--as-of DATE` searches the notes as
 * they were in git then (for audits: what did the agent know when it acted?).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import {
  AsOf,
  MemorySearchAsOfRequest,
  MemorySearchRequest,
  SearchFilter,
  type MemorySnapshot,
  type SearchResult,
} from '@keel/schemas';
import type { KeelClient } from '../../rpc/client';
import { resolveWorkspace } from '../../workspace/locate';
import { withWorkspace } from '../connect';
import { printJson } from '../format';
import type { CliContext } from '../context';

interface SearchOptions {
  k: string;
  type?: string[];
  tag?: string[];
  path?: string;
  from?: string;
  to?: string;
  since?: string;
  until?: string;
  allTags?: boolean;
  excludeStale?: boolean;
  json?: boolean;
  batch?: string;
  asOf?: string;
  mode: 'hybrid' | 'vector' | 'text';
  kind?: 'note' | 'run' | 'any';
}

const BatchLine = z.object({
  id: z.union([z.string(), z.number()]),
  query: z.string(),
  k: z.number().int().positive().optional(),
  filter: SearchFilter.unwrap().optional(),
  mode: z.enum(['hybrid', 'vector', 'text']).optional(),
});

export function registerSearch(program: Command, context: CliContext): void {
  program
    .command('search')
    .description('search the workspace memory (vector + full text), or a batch of queries')
    .argument('[query]', 'what to look for')
    .option('-k, --k <n>', 'how many results', '10')
    .option('--type <type...>', 'only notes of this frontmatter type')
    .option('--tag <tag...>', 'only notes with one of these tags')
    .option('--all-tags', 'with --tag: only notes with every one of the tags')
    .option(
      '--path <path>',
      'only files under this workspace path (memory/customers/) or glob (memory/**/*.md)',
    )
    .option('--since <when>', 'only notes dated since 30d, 12h, 2w ago, or YYYY-MM-DD')
    .option('--until <when>', 'only notes dated until 7d ago, or YYYY-MM-DD')
    .option('--exclude-stale', 'leave out stale notes (past review-by, or older than memory.maxAgeDays)')
    .option('--from <date>', 'only notes dated on or after YYYY-MM-DD')
    .option('--to <date>', 'only notes dated on or before YYYY-MM-DD')
    .addOption(
      new Option('--kind <kind>', 'search notes (the default), finished runs, or both').choices([
        'note',
        'run',
        'any',
      ]),
    )
    .addOption(
      new Option('--mode <mode>', 'rank by both (hybrid), by meaning (vector) or by words (text)')
        .choices(['hybrid', 'vector', 'text'])
        .default('hybrid'),
    )
    .option(
      '--as-of <when>',
      'search the notes as they were in git then: YYYY-MM-DD (end of day), an ISO date-time or a commit',
    )
    .option('--json', 'print JSON')
    .option('--batch <file>', 'read JSON Lines queries from FILE (- for stdin) and write JSON Lines answers')
    .action(async (query: string | undefined, options: SearchOptions) => {
      const k = Number(options.k);
      if (!Number.isInteger(k) || k < 1)
        throw new Error(`--k ${options.k}: give a whole number of results, 1 or more`);
      const filter = filterFrom(options);
      if (!options.batch && !query)
        throw new Error('Give a query ("keel search \\"renewal terms\\"") or --batch FILE.');
      const asOf = asOfFrom(options);
      if (asOf && options.batch) throw new Error('--as-of searches one query: leave out --batch.');
      const workspace = resolveWorkspace(context.workspaceOption());
      await withWorkspace(workspace, context.log, async ({ client }) => {
        if (options.batch) return runBatch(client, options.batch, { k, filter, mode: options.mode });
        if (asOf) {
          const past = await client.request(MemorySearchAsOfRequest, {
            query: query!,
            k,
            mode: options.mode,
            asOf,
            ...(filter ? { filter } : {}),
          });
          if (options.json) printJson(past);
          else
            process.stdout.write(
              describeSnapshot(past.snapshot) + describeResults(past.results, past.tookMs),
            );
          return;
        }
        const answer = await client.request(MemorySearchRequest, {
          query: query!,
          k,
          mode: options.mode,
          ...(filter ? { filter } : {}),
        });
        if (options.json) printJson(answer);
        else process.stdout.write(describeResults(answer.results, answer.tookMs));
      });
    });
}

/** The checked `--as-of` value: `--as-of --output=/tmp/x` is refused, never read as an option. */
function asOfFrom(options: SearchOptions): string | undefined {
  if (options.asOf === undefined) return undefined;
  const checked = AsOf.safeParse(options.asOf);
  if (!checked.success) {
    throw new Error(
      `--as-of ${JSON.stringify(options.asOf)}: ${checked.error.issues[0]?.message ?? 'not a date'}`,
    );
  }
  return checked.data;
}

function describeSnapshot(snapshot: MemorySnapshot): string {
  const how = snapshot.cached ? 'cached' : `indexed in ${snapshot.buildMs} ms`;
  const lines = [
    `Memory as of ${snapshot.requested}: commit ${snapshot.commit.slice(0, 12)} of ${snapshot.committedAt} ` +
      `(${snapshot.documents} notes, ${how})`,
    ...snapshot.skipped.map((why) => `  skipped ${why}`),
  ];
  return lines.join('\n') + '\n';
}

function filterFrom(options: SearchOptions): SearchFilter | undefined {
  const filter: SearchFilter = {
    ...(options.type ? { type: options.type.length === 1 ? options.type[0]! : options.type } : {}),
    ...(options.tag ? { tags: options.tag } : {}),
    ...(options.allTags ? { tagsMatch: 'all' as const } : {}),
    ...(options.path ? { path: options.path } : {}),
    ...(options.since ? { since: options.since } : {}),
    ...(options.until ? { until: options.until } : {}),
    ...(options.excludeStale ? { excludeStale: true } : {}),
    ...(options.from ? { dateFrom: options.from } : {}),
    ...(options.to ? { dateTo: options.to } : {}),
    ...(options.kind ? { kind: options.kind } : {}),
  };
  if (Object.keys(filter).length === 0) return undefined;
  const checked = SearchFilter.safeParse(filter);
  if (!checked.success) throw new Error(`Invalid filter: ${z.prettifyError(checked.error)}`);
  return checked.data;
}

interface BatchDefaults {
  k: number;
  filter: SearchFilter | undefined;
  mode: 'hybrid' | 'vector' | 'text';
}

async function runBatch(client: KeelClient, file: string, defaults: BatchDefaults): Promise<void> {
  const input = file === '-' ? process.stdin : createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    let parsed: z.infer<typeof BatchLine>;
    try {
      parsed = BatchLine.parse(JSON.parse(line));
    } catch (error) {
      throw new Error(
        `${file}:${lineNumber}: expected {"id": ..., "query": "..."}: ${(error as Error).message}`,
      );
    }
    const filter = parsed.filter ?? defaults.filter;
    const answer = await client.request(MemorySearchRequest, {
      query: parsed.query,
      k: parsed.k ?? defaults.k,
      mode: parsed.mode ?? defaults.mode,
      ...(filter ? { filter } : {}),
    });
    const ok = process.stdout.write(JSON.stringify({ id: parsed.id, results: answer.results }) + '\n');
    if (!ok) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

function describeResults(results: SearchResult[], tookMs: number): string {
  if (results.length === 0) return `No results (${tookMs} ms).\n`;
  const lines = results.map((r, i) => {
    if (r.kind === 'run') return describeRun(r, i);
    const where = `${r.path}:${r.startLine}-${r.endLine}`;
    const heading = r.heading ? `  ${r.heading}` : '';
    const stale = r.stale ? `  [stale${r.reviewBy ? `: expired ${r.reviewBy}` : ''}]` : '';
    const date = r.date ? `  (${r.date})` : '';
    const preview = r.text.replace(/\s+/g, ' ').slice(0, 160);
    return `${i + 1}. ${where}${heading}${date}${stale}\n   ${preview}`;
  });
  const count = results.length === 1 ? '1 result' : `${results.length} results`;
  return `${lines.join('\n')}\n(${count} in ${tookMs} ms)\n`;
}

/** A run hit: its id (for `keel show`), runbook, day and status, then the start of its record. */
function describeRun(r: SearchResult, i: number): string {
  const preview = r.text.replace(/\s+/g, ' ').slice(0, 160);
  return `${i + 1}. run ${r.runId ?? r.path}  ${r.heading}  (${r.date ?? 'undated'})  [keel show ${r.runId ?? r.path}]\n   ${preview}`;
}
