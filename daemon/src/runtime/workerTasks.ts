/**
 * What the daemon's worker thread (worker.ts) can be asked: each task's input and output, which
 * must survive structured cloning. The implementations live in worker.ts, which the main thread
 * never loads.
 */
import type { ParseResult } from '../memory/parse/index';

export interface PreparedFile {
  parsed: ParseResult;
  /** Per chunk: what full-text search and the embedder see. */
  searchTexts: string[];
  /** Per chunk, when the worker embedded (the local embedder); null when the caller embeds. */
  vectors: Float32Array[] | null;
}

/** What a worker gets when it starts (its `workerData`). */
export interface WorkerData {
  /** The default embedder's word table as the main thread read it, shared rather than read again. */
  wordTable?: SharedArrayBuffer | null;
}

export type RenderMode = 'value' | 'text' | 'deep' | 'condition';

export interface WorkerTasks {
  /** Several files per request: one round trip per group instead of per file. */
  prepareFiles: {
    input: { files: { path: string; content: string }[]; embed: boolean };
    output: PreparedFile[];
  };
  render: { input: { template: unknown; scope: Record<string, unknown>; mode: RenderMode }; output: unknown };
  /** A full garbage collection, after a large run of prepareFiles (runtime/collectGarbage.ts). */
  collectGarbage: { input: null; output: boolean };
}

export type WorkerRequest = {
  [K in keyof WorkerTasks]: { id: number; task: K; input: WorkerTasks[K]['input'] };
}[keyof WorkerTasks];

export type WorkerResponse =
  /** Sent once, when the worker has loaded and listens. */
  { ready: true } | { id: number; ok: true; output: unknown } | { id: number; ok: false; error: string };
