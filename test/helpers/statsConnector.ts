/**
 * `stats@1`, a read-only analytics source for tests: `get` answers the JSON in `stats.json` of
 * its folder (the "provider") and counts each call in `calls.log`, so a test can change the data
 * between runs and see whether a step asked again.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Connector } from '../../daemon/src/connectors/sdk';

/** How many times the provider was asked. */
export async function statsCalls(dir: string): Promise<number> {
  const text = await readFile(join(dir, 'calls.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

export const statsConnector: Connector = {
  id: 'stats@1',
  description: 'Reads visit statistics (test connector; answers a JSON file).',
  configSchema: z.strictObject({ dir: z.string().min(1).describe('Where the provider keeps stats.json') }),
  credentials: [],
  actions: {
    get: {
      description: 'The current statistics',
      risk: 'read',
      input: z.strictObject({}),
      output: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
      perform: async (_input, ctx) => {
        const dir = ctx.config.dir as string;
        await appendFile(join(dir, 'calls.log'), `${ctx.idempotencyKey}\n`);
        return JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as unknown;
      },
      review: () => ({ title: 'Read statistics', language: 'markdown', text: '' }),
    },
  },
  events: {},
  probe: () => Promise.resolve({ ok: true, detail: 'a folder', checkedAt: new Date().toISOString() }),
};
