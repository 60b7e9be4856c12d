/**
 * Restart: a workspace whose index already exists (built once, then the daemon stopped as `keel
 * stop` stops it), and a new daemon spawned on it. Timed from the spawn until the first search
 * answer with results, connecting as soon as the lock file and socket appear (the start-up rescan
 * that follows runs in the background and is not part of the figure). Then, once that rescan is
 * done and a second later, one note is saved and timed to searchable: the first save after a start.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IndexStatusRequest, MemorySearchRequest } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { DaemonProcess, sleep, type DaemonOptions } from '../daemonProcess';
import { readMemory } from '../procStats';
import { round } from '../stats';
import { measureColdIndex } from './coldIndex';
import { newNote, pollUntilFound } from './saveToSearchable';

export interface RestartResult {
  documents: number;
  chunks: number;
  /** Building the index the first time (not part of the restart figure). */
  firstIndexMs: number;
  /** Whether that first build got its search indexes, and how the first daemon's shutdown went. */
  firstSearchIndexes: string;
  firstShutdown: { ms: number; killed: boolean };
  msToSocket: number;
  /** Null when no search was answered within the timeout. */
  msToFirstSearch: number | null;
  /** Results of that first answer (it must have some to count). */
  firstSearchResults: number;
  rssMb: number | null;
  /**
   * The first save after the restart, once the daemon has compared its index with the files (as a
   * person who opens the editor, then writes a note): save to searchable, as the saves phase
   * measures it. Null if it was not found within the timeout.
   */
  firstSaveMs: number | null;
}

export async function measureRestart(
  options: DaemonOptions,
  expected: { documents: number; chunks: number },
  query: string,
  timeoutMs = 60_000,
): Promise<RestartResult> {
  const first = DaemonProcess.spawn(options);
  const { result: built, client: firstClient } = await measureColdIndex(first, {
    workspace: options.workspace,
    expectedChunks: expected.chunks,
  });
  await firstClient.close();
  const firstShutdown = await first.stop();

  const daemon = DaemonProcess.spawn(options);
  try {
    const client = await daemon.connect(60_000, 2);
    const msToSocket = performance.now() - daemon.spawnedAt;
    const results = await firstSearch(client, query, timeoutMs);
    const msToFirstSearch = results > 0 ? performance.now() - daemon.spawnedAt : null;
    const rssMb = readMemory(daemon.pid)?.rssMb ?? null;
    const firstSaveMs = await firstSave(client, options.workspace, timeoutMs).catch((error: unknown) => {
      process.stderr.write(`The first save after the restart was not measured: ${String(error)}\n`);
      return null;
    });
    await client.close();
    return {
      documents: expected.documents,
      chunks: expected.chunks,
      firstIndexMs: round(built.phasesMs.searchIndexes ?? built.phasesMs.ready, 1),
      firstSearchIndexes: built.searchIndexes,
      firstShutdown: { ms: round(firstShutdown.ms, 0), killed: firstShutdown.killed },
      msToSocket: round(msToSocket, 1),
      msToFirstSearch: msToFirstSearch === null ? null : round(msToFirstSearch, 1),
      firstSearchResults: results,
      rssMb: rssMb === null ? null : round(rssMb, 1),
      firstSaveMs: firstSaveMs === null ? null : round(firstSaveMs, 1),
    };
  } finally {
    await daemon.stop();
  }
}

/** A person's pause between the editor showing the index ready and their first save. */
const FIRST_SAVE_AFTER_MS = 1_000;

/** Milliseconds from saving a new note to a search finding it; null if none did in time. */
async function firstSave(client: SocketClient, workspace: string, timeoutMs: number): Promise<number | null> {
  await caughtUp(client, timeoutMs);
  await sleep(FIRST_SAVE_AFTER_MS);
  const started = performance.now();
  const nonce = `keelrestart${Date.now().toString(36)}`;
  // In a folder the daemon watches already (a new folder is listed again when its event comes).
  await writeFile(join(workspace, 'memory', 'after-restart.md'), newNote(nonce, 0));
  const save = await pollUntilFound(client, nonce, started, {});
  return save.ok ? save.ms : null;
}

/** Until the index status no longer says the start-up comparison with the files is under way. */
async function caughtUp(client: SocketClient, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await client.request(IndexStatusRequest);
    if (status.state === 'ready' && !status.catchingUp) return;
    if (performance.now() > deadline)
      throw new Error(`the restarted daemon did not catch up: ${JSON.stringify(status)}`);
    await sleep(50);
  }
}

/**
 * Retries until an answer has results: an index still opening answers with an error, or not at all
 * (a request waits for the memory plane to open), so each request is bounded by the deadline too.
 * Answers the number of results, or 0 if none came in time.
 */
async function firstSearch(client: SocketClient, query: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline && !client.closed) {
    const request = client.request(MemorySearchRequest, { query, k: 10 }).catch(() => null);
    const answer = await Promise.race([request, sleep(deadline - performance.now()).then(() => null)]);
    if (answer && answer.results.length > 0) return answer.results.length;
    await sleep(2);
  }
  return 0;
}
