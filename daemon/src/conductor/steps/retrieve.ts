/**
 * `retrieve`: a memory search whose results later steps read as `steps.<id>.output`: each hit with
 * its `date` and `stale`, and a stale hit's text led by its `[stale: ...]` marker.
 */
import type { RunbookStep, SearchResult } from '@keel/schemas';
import { renderText } from '../templates';
import { markStale } from './freshness';
import type { MemoryAccess, StepResult, StepRuntime } from './stepRuntime';

type RetrieveStep = Extract<RunbookStep, { type: 'retrieve' }>;

export async function retrieveInput(
  step: RetrieveStep,
  runtime: StepRuntime,
): Promise<{ query: string; k: number }> {
  return { query: await renderText(step.query, runtime.scope), k: step.k };
}

export async function runRetrieve(step: RetrieveStep, runtime: StepRuntime): Promise<StepResult> {
  const { query, k } = await retrieveInput(step, runtime);
  // Stale hits lead with a marker, so every prompt that renders `chunk.text` shows it.
  const results = (await runtime.memory.search(query, k, step.filter)).map(markStale);
  return { output: results, retrieved: await withBlobs(results, runtime.memory) };
}

/**
 * Each hit's provenance: its path, lines and score, and the git blob id of the note as the index
 * held it (the hit's text came from the index, which may lag the file: that version is what was read).
 */
export async function withBlobs(
  hits: readonly SearchResult[],
  memory: MemoryAccess,
): Promise<NonNullable<StepResult['retrieved']>> {
  const blobs = new Map<string, string | null>();
  for (const { path } of hits) {
    if (!blobs.has(path)) blobs.set(path, memory.indexedBlob ? await memory.indexedBlob(path) : null);
  }
  return hits.map(({ path, startLine, endLine, score }) => ({
    path,
    startLine,
    endLine,
    score,
    blob: blobs.get(path) ?? null,
  }));
}
