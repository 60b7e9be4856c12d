/**
 * Restart: a workspace whose index already exists (built once, then the daemon stopped as `keel
 * stop` stops it), and a new daemon spawned on it. Timed from the spawn until the first search
 * answer with results, connecting as soon as the lock file and socket appear (the start-up rescan
 * that follows runs in the background and is not part of the figure).
 */
import { MemorySearchRequest } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { DaemonProcess, sleep, type DaemonOptions } from '../daemonProcess';
import { readMemory } from '../procStats';
import { round } from '../stats';
import { measureColdIndex } from './coldIndex';

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
    };
  } finally {
    await daemon.stop();
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
