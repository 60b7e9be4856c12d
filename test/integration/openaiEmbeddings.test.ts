/**
 * Memory embedded by an OpenAI-compatible endpoint (keel.yaml `memory.embeddings.provider: openai`),
 * served by the test model server to an in-process daemon: the notes are indexed and found through
 * the endpoint's vectors, and switching back to the local embedder rebuilds the index.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { IndexStatus } from '@keel/schemas';
import { Daemon } from '../../daemon/src/daemon';
import { createLogger } from '../../daemon/src/log';
import { trust } from '../helpers/trust';
import { writeCompany } from '../helpers/memory';
import { ModelServer } from '../helpers/modelServer';
import { waitFor } from '../helpers/processes';
import { makeTempDirs, type TempDirs } from '../helpers/workspace';

const KEY_ENV = 'KEEL_TEST_EMBEDDINGS_KEY';
const KEY = 'sk-embeddings-test';

let dirs: TempDirs;
let server: ModelServer;
let daemon: Daemon | null = null;
const savedEnv = { runtime: process.env.KEEL_RUNTIME_DIR };

beforeEach(async () => {
  dirs = await makeTempDirs();
  process.env.KEEL_RUNTIME_DIR = dirs.runtime;
  process.env[KEY_ENV] = KEY;
  server = await ModelServer.start({ apiKey: KEY });
  await writeCompany(dirs.workspace);
});
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = null;
  await server.close();
  delete process.env[KEY_ENV];
  if (savedEnv.runtime === undefined) delete process.env.KEEL_RUNTIME_DIR;
  else process.env.KEEL_RUNTIME_DIR = savedEnv.runtime;
  await dirs.cleanup();
});

async function writeConfig(embeddings: string): Promise<void> {
  await writeFile(join(dirs.workspace, 'keel.yaml'), `version: 1\nmemory:\n  embeddings: ${embeddings}\n`);
}

/** The index once it is ready, with all five notes, built by the embedder `embedder` matches. */
function indexReady(embedder: RegExp): Promise<IndexStatus> {
  return waitFor(
    `an index built by ${String(embedder)}`,
    async () => {
      const status = await daemon!.memory.status();
      const done = status.state === 'ready' && status.documents === 5 && embedder.test(status.embedder);
      return done ? status : null;
    },
    20_000,
  );
}

async function topPath(query: string): Promise<string | undefined> {
  const memory = await daemon!.memory.get({ sync: false });
  // Vector mode alone, so the embedder (not BM25) is what finds the note.
  return (await memory.search({ query, k: 3 }, 'vector'))[0]?.path;
}

it('indexes and searches through an OpenAI-compatible endpoint, then rebuilds for the local embedder', async () => {
  await writeConfig(
    `{ provider: openai, baseUrl: "${server.baseUrl}", model: test-embed, dimensions: 96, apiKeyEnv: ${KEY_ENV} }`,
  );
  daemon = await Daemon.start({
    workspace: dirs.workspace,
    mode: 'daemon',
    log: createLogger({ level: 'error' }),
  });
  await trust(daemon);

  const remote = await indexReady(/^openai\//);
  expect(remote.embedder).toBe(`openai/test-embed/96@${new URL(server.baseUrl).host}`);
  expect(remote.recovery).toBeNull();
  expect(await topPath('Acme contract renewal pricing in March')).toBe('memory/customers/acme.md');
  expect(await topPath('podcast for freelancers about bookkeeping')).toBe('memory/notes/old-idea.md');
  // The probe, the notes, the queries: each with the key, the model and the dimensions asked for.
  expect(server.embeddingRequests.length).toBeGreaterThanOrEqual(4);
  for (const request of server.embeddingRequests) {
    expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request.body).toMatchObject({ model: 'test-embed', dimensions: 96, encoding_format: 'base64' });
  }
  const embedded = (server.embeddingRequests as { body: { input: string[] } }[]).flatMap((r) => r.body.input);
  expect(embedded.some((text) => text.includes('renewal is due in March'))).toBe(true);

  await writeConfig('{ provider: local }');
  const local = await indexReady(/^keel-static-v1:/);
  const requestsAfterSwitch = server.embeddingRequests.length;
  expect(local.chunks).toBe(remote.chunks);
  // A new embedder is a rebuild, not a repair: nothing was damaged.
  expect(local.recovery).toBeNull();
  expect(await topPath('Acme contract renewal pricing in March')).toBe('memory/customers/acme.md');
  expect(server.embeddingRequests).toHaveLength(requestsAfterSwitch);
});
