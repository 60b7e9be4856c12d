/**
 * Freshness as a model sees it, through a real daemon and the test model server: a retrieve step's
 * filter narrows what the prompt quotes and a stale hit reaches the prompt marked; the agent's
 * memory_search tool takes the same filter and answers with each hit's date and staleness; a bad
 * window in a runbook is a problem located in its file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RunGetRequest,
  RunStartRequest,
  RunbooksListRequest,
  localDay,
  type RunSummary,
} from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { InProcessClient } from '../../daemon/src/rpc/inProcessClient';
import { trust } from '../helpers/trust';
import { writeNote } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const KEY_ENV = 'KEEL_TEST_MODEL_KEY';
const KEY = 'sk-freshness-test-secret';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | undefined;
let client: InProcessClient;

const ago = (days: number): string => localDay(new Date(Date.now() - days * 86_400_000));

const NOTES: Record<string, string> = {
  'memory/customers/fresh.md': `---\ntype: customer\ndate: ${ago(2)}\n---\n# Fresh\n\nPricing agreed this week: 5,000 EUR.\n`,
  'memory/customers/expired.md': `---\ntype: customer\ndate: ${ago(5)}\nreview-by: ${ago(1)}\n---\n# Expired\n\nPricing under review: 4,000 EUR.\n`,
  'memory/customers/ancient.md': `---\ntype: customer\ndate: ${ago(90)}\n---\n# Ancient\n\nPricing from the pilot: 1,000 EUR.\n`,
  'memory/decisions/old.md': `---\ntype: decision\ndate: ${ago(400)}\n---\n# Old\n\nPricing decision from last year.\n`,
  'memory/decisions/deep.md': `---\ntype: decision\ndate: ${ago(10)}\n---\n# Deep\n\nPricing decision this month.\n`,
};

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[KEY_ENV] = KEY;
  server = await ModelServer.start({ apiKey: KEY });
  for (const [path, content] of Object.entries(NOTES)) await writeNote(dirs.workspace, path, content);
  await writeFile(
    join(dirs.workspace, 'keel.yaml'),
    `version: 1
memory: { maxAgeDays: 365 }
models:
  endpoint: { baseUrl: ${server.baseUrl}, apiKeyEnv: ${KEY_ENV} }
  tiers:
    fast: { model: small-1, inputUsdPerMTok: 1, outputUsdPerMTok: 2 }
  timeoutSeconds: 5
`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  client = new InProcessClient(daemon);
  await trust(daemon);
});
afterEach(async () => {
  await daemon?.stop('test over');
  await server.close();
  delete process.env[KEY_ENV];
  await dirs.cleanup();
});

async function run(name: string, yaml: string): Promise<RunSummary> {
  await writeNote(dirs.workspace, `runbooks/${name}.yaml`, yaml);
  const started = await client.request(RunStartRequest, { runbook: name, inputs: {} });
  return waitFor(
    `run ${started.id} to finish`,
    async () => {
      const trace = await client.request(RunGetRequest, { id: started.id });
      return trace.run.endedAt ? trace.run : null;
    },
    30_000,
  );
}

/** What the model server received, as far as these tests read it. */
interface ChatBody {
  messages: { role: string; content: string }[];
  tools: { function: { name: string; parameters: { properties: object } } }[];
}
const body = (index: number): ChatBody => server.requests[index]!.body as ChatBody;
const messagesOf = (index: number): string => JSON.stringify(body(index).messages);

describe('retrieve', () => {
  it('narrows by its filter, and the prompt marks the stale hit', async () => {
    server.enqueue({ content: 'Quote 5,000 EUR.' });
    const summary = await run(
      'quote',
      `apiVersion: keel/v1
name: quote
role: Sales
description: Quotes a price from recent customer notes.
steps:
  - id: facts
    type: retrieve
    query: pricing
    k: 10
    filter: { type: customer, since: 30d }
  - id: answer
    type: llm
    prompt: |
      {% for chunk in steps.facts.output %}- ({{ chunk.date }}) {{ chunk.text }}
      {% endfor %}
outputs:
  answer: { value: "{{ steps.answer.output }}" }
`,
    );
    expect(summary.status).toBe('succeeded');
    const prompt = messagesOf(0);
    expect(prompt).toContain(`(${ago(5)}) [stale: expired ${ago(1)}] # Expired`);
    expect(prompt).toContain(`(${ago(2)}) # Fresh`);
    expect(prompt.match(/\[stale/g)).toHaveLength(1);
    // since: 30d kept the 90-day-old customer note and the decisions out.
    expect(prompt).not.toContain('Ancient');
    expect(prompt).not.toContain('Pricing decision');
  });

  it('a runbook with a bad window is a problem in its file, naming the allowed forms', async () => {
    await writeNote(
      dirs.workspace,
      'runbooks/bad.yaml',
      `apiVersion: keel/v1
name: bad
role: Sales
description: A typo in a window.
steps:
  - id: facts
    type: retrieve
    query: pricing
    filter: { since: 30x }
`,
    );
    const { runbooks } = await client.request(RunbooksListRequest);
    const bad = runbooks.find((r) => r.path === 'runbooks/bad.yaml')!;
    expect(bad.problems[0]).toMatchObject({
      path: 'runbooks/bad.yaml',
      line: 9,
      message: expect.stringMatching(/"30x" is not a time: .*`12h`, `30d`, `2w`.*YYYY-MM-DD/),
    });
  });
});

describe('the agent memory_search tool', () => {
  it('takes the filter, answers with date and stale, and reads a bad filter as an error', async () => {
    server.enqueue(
      {
        toolCalls: [
          { name: 'memory_search', arguments: { query: 'pricing', type: 'decision', excludeStale: true } },
          { name: 'memory_search', arguments: { query: 'pricing', k: 10, path: 'memory/customers/*.md' } },
          { name: 'memory_search', arguments: { query: 'pricing', since: '30x' } },
        ],
      },
      { content: 'Done.' },
    );
    const summary = await run(
      'agent',
      `apiVersion: keel/v1
name: agent
role: Sales
description: Looks up pricing.
steps:
  - id: look
    type: agent
    goal: Find the current pricing.
    tools: [memory.search]
    maxIterations: 3
outputs:
  answer: { value: "{{ steps.look.output.answer }}" }
`,
    );
    expect(summary.status).toBe('succeeded');
    const tools = body(0).tools;
    expect(Object.keys(tools[0]!.function.parameters.properties)).toEqual(
      expect.arrayContaining(['since', 'until', 'excludeStale', 'type', 'tags', 'tagsMatch', 'path']),
    );
    const answers = body(1)
      .messages.filter((m) => m.role === 'tool')
      .map((m) => JSON.parse(m.content) as unknown);
    expect(answers[0]).toEqual([
      expect.objectContaining({ path: 'memory/decisions/deep.md', date: ago(10), stale: false }),
    ]);
    const customers = answers[1] as { path: string; date: string; stale: boolean; text: string }[];
    expect(customers.map((c) => c.path).sort()).toEqual([
      'memory/customers/ancient.md',
      'memory/customers/expired.md',
      'memory/customers/fresh.md',
    ]);
    const expired = customers.find((c) => c.path === 'memory/customers/expired.md')!;
    expect(expired).toMatchObject({ date: ago(5), stale: true });
    expect(expired.text.startsWith(`[stale: expired ${ago(1)}] # Expired`)).toBe(true);
    expect(customers.find((c) => c.path === 'memory/customers/fresh.md')).toMatchObject({ stale: false });
    expect((answers[2] as { error: string }).error).toMatch(/"30x" is not a time/);
  });
});
