/**
 * `ledger@1`, a connector for exactly-once and compensation tests. Its "provider" is a real file,
 * `ledger.jsonl` in the configured folder, one line per call it carried out, so a test counts
 * what really happened. `add` can be asked (`find`) and undone (`remove`); `push` can be neither,
 * like an MCP tool; `refuse` is always refused for its input. A file `hang-<action>` in the folder makes that action carry itself out, write
 * `hung`, and never answer: the daemon is killed between its intent and its result.
 */
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ActionInputError,
  type ActionContext,
  type Connector,
  type ConnectorAction,
} from '../../daemon/src/connectors/sdk';

const Item = z.strictObject({ item: z.string().min(1) });
type Item = z.infer<typeof Item>;
const Entry = z.object({ op: z.string(), key: z.string(), item: z.string() });
type Entry = z.infer<typeof Entry>;

/** What the provider carried out, in order. */
export async function ledger(dir: string): Promise<Entry[]> {
  const text = await readFile(join(dir, 'ledger.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => Entry.parse(JSON.parse(line)));
}

/** Makes `action` hang after carrying itself out, until the process is killed. */
export async function hangNext(dir: string, action: string): Promise<void> {
  await writeFile(join(dir, `hang-${action}`), '');
}

/** Lets the provider answer again. */
export async function stopHanging(dir: string): Promise<void> {
  for (const action of ['add', 'push', 'remove']) await rm(join(dir, `hang-${action}`), { force: true });
  await rm(join(dir, 'hung'), { force: true });
}

function carryOut(op: string) {
  return async (input: Item, ctx: ActionContext): Promise<Entry> => {
    const dir = ctx.config.dir as string;
    const entry = { op, key: ctx.idempotencyKey, item: input.item };
    await appendFile(join(dir, 'ledger.jsonl'), JSON.stringify(entry) + '\n');
    if (await exists(join(dir, `hang-${op}`))) {
      await writeFile(join(dir, 'hung'), ctx.idempotencyKey);
      await new Promise<never>(() => undefined);
    }
    return entry;
  };
}

function findBy(op: string) {
  return async (_input: Item, ctx: ActionContext): Promise<Entry | null> =>
    (await ledger(ctx.config.dir as string)).find((e) => e.op === op && e.key === ctx.idempotencyKey) ?? null;
}

function action(op: string, extra: Partial<ConnectorAction<Item, Entry>>): ConnectorAction<Item, Entry> {
  return {
    description: `${op} an item (test connector)`,
    risk: 'internal',
    input: Item,
    output: Entry,
    perform: carryOut(op),
    review: (input) => ({ title: `${op} ${input.item}`, language: 'markdown', text: input.item }),
    ...extra,
  };
}

export const ledgerConnector: Connector = {
  id: 'ledger@1',
  description: 'Keeps a ledger in a file (test connector).',
  configSchema: z.strictObject({ dir: z.string().min(1) }),
  credentials: [],
  actions: {
    add: action('add', {
      find: findBy('add'),
      undo: { action: 'remove', input: (input: Item) => ({ item: input.item }) },
    }),
    push: action('push', {}),
    remove: action('remove', { find: findBy('remove') }),
    refuse: {
      description: 'Is refused for its input: it does not happen (test connector)',
      risk: 'internal',
      input: Item,
      output: Entry,
      perform: (input: Item) => Promise.reject(new ActionInputError(`no such item: ${input.item}`)),
      review: (input: Item) => ({ title: `refuse ${input.item}`, language: 'markdown', text: input.item }),
    },
    fail: {
      description: 'Fails (the provider refuses)',
      risk: 'read',
      input: z.strictObject({}),
      output: z.object({}),
      perform: () => Promise.reject(new Error('the provider refuses')),
      review: () => ({ title: 'fail', language: 'markdown', text: '' }),
    },
  },
  events: {},
  probe: () => Promise.resolve({ ok: true, detail: 'a file', checkedAt: new Date().toISOString() }),
};

function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}
