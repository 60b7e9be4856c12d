/**
 * `notify@1`, a connector for tests: each `send` appends one line to a real file (the "provider"),
 * exactly once per idempotency key, and authenticates with the credential `token`. It is careless
 * with its secret on purpose: its answer and its errors quote the token, as a buggy connector or
 * a provider echoing headers would, so tests can show Keel keeps it out of what it writes.
 */
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Connector } from '../../daemon/src/connectors/sdk';

const Message = z.strictObject({
  to: z.string().min(1).describe('Who gets it: an address'),
  text: z.string().min(1).describe('What it says'),
});
type Message = z.infer<typeof Message>;
const Sent = z.object({ id: z.string(), to: z.string(), authorization: z.string() });

/** The provider's record: one JSON line per delivered message. */
export async function delivered(dir: string): Promise<{ id: string; to: string; text: string }[]> {
  const text = await readFile(join(dir, 'sent.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { id: string; to: string; text: string });
}

/** Makes the provider refuse the next `send` (a 503), once: an action that fails after approval. */
export async function refuseNextSend(dir: string): Promise<void> {
  await writeFile(join(dir, 'refuse-next'), '');
}

export const notifyConnector: Connector = {
  id: 'notify@1',
  description: 'Sends a short message (test connector; delivers into a file).',
  configSchema: z.strictObject({
    dir: z.string().min(1).describe('Where the provider keeps what it delivered'),
  }),
  credentials: ['token'],
  actions: {
    send: {
      description: 'Send a message',
      risk: 'external',
      input: Message,
      output: Sent,
      perform: async (input: Message, ctx) => {
        const token = ctx.credential('token');
        const dir = ctx.config.dir as string;
        if (
          await rm(join(dir, 'refuse-next')).then(
            () => true,
            () => false,
          )
        ) {
          throw new Error('503 from provider: try again later');
        }
        await appendFile(
          join(dir, 'sent.jsonl'),
          JSON.stringify({ id: ctx.idempotencyKey, ...input }) + '\n',
        );
        return { id: ctx.idempotencyKey, to: input.to, authorization: `Bearer ${token}` };
      },
      find: async (_input: Message, ctx) => {
        const token = ctx.credential('token');
        const done = (await delivered(ctx.config.dir as string)).find((m) => m.id === ctx.idempotencyKey);
        return done ? { id: done.id, to: done.to, authorization: `Bearer ${token}` } : null;
      },
      review: (input: Message) => ({
        title: `Message to ${input.to}`,
        language: 'markdown',
        text: input.text,
      }),
      fromReview: (text: string, original: Message) => ({ ...original, text }),
    },
    fail: {
      description: 'Fails, quoting its credential (a careless provider error)',
      risk: 'read',
      input: z.strictObject({}),
      output: z.object({}),
      perform: (_input, ctx) =>
        Promise.reject(new Error(`401 from provider: token ${ctx.credential('token')} refused`)),
      review: () => ({ title: 'fail', language: 'markdown', text: '' }),
    },
  },
  events: {},
  probe: () => Promise.resolve({ ok: true, detail: 'a folder', checkedAt: new Date().toISOString() }),
};
