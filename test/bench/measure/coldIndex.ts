/**
 * Cold index: a workspace without `.keel/`, from the daemon's spawn until `keel/index/status` says
 * `ready` with every generated chunk, polled every 50 ms. The phases on the way (socket up, scan
 * done, every file written, the search indexes built) are timed too, because "ready" is reported
 * as soon as the rows are written while the full-text and vector indexes are still being built.
 */
import { IndexStatusRequest, type IndexStatus } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { sleep, type DaemonProcess } from '../daemonProcess';
import { readCpuSeconds } from '../procStats';
import { waitForSearchIndexes, type IndexWait } from '../searchIndexes';
import { round } from '../stats';

export interface ColdIndexResult {
  expectedChunks: number;
  chunks: number;
  documents: number;
  /** chunks / seconds from spawn to `ready` with the full count (the acceptance's definition). */
  chunksPerSecond: number;
  /** chunks / seconds from spawn until the search indexes exist (null if they never appeared). */
  chunksPerSecondSearchable: number | null;
  /** Whether the full-text (and from 20,000 rows the vector) index got built after `ready`. */
  searchIndexes: IndexWait['outcome'];
  /** The indexes the table had when the wait ended. */
  indexColumns: string[];
  phasesMs: {
    socket: number;
    scanned: number | null;
    ready: number;
    searchIndexes: number | null;
  };
  /** The daemon's own report of the vector index build, in ms, from its log. */
  vectorIndexBuildMs: number | null;
  /** User + system CPU seconds the daemon spent until ready: above the wall time means both cores. */
  cpuSeconds: number | null;
}

const POLL_MS = 50;

export interface ColdIndexOptions {
  workspace: string;
  expectedChunks: number;
  timeoutMs?: number;
  /** How long to wait for the search indexes after `ready`, and for a stalled build. */
  indexTimeoutMs?: number;
  indexStallMs?: number;
}

export async function measureColdIndex(
  daemon: DaemonProcess,
  options: ColdIndexOptions,
): Promise<{ result: ColdIndexResult; client: SocketClient }> {
  const { expectedChunks, timeoutMs = 30 * 60_000 } = options;
  const client = await daemon.connect();
  const socket = performance.now() - daemon.spawnedAt;
  let scanned: number | null = null;
  let status: IndexStatus;
  for (;;) {
    status = await client.request(IndexStatusRequest);
    const now = performance.now() - daemon.spawnedAt;
    if (scanned === null && status.progress?.phase === 'indexing') scanned = now;
    if (status.state === 'ready' && status.chunks >= expectedChunks) break;
    if (now > timeoutMs)
      throw new Error(`the index was not ready after ${timeoutMs} ms: ${JSON.stringify(status)}`);
    await sleep(POLL_MS);
  }
  const ready = performance.now() - daemon.spawnedAt;
  const cpuSeconds = readCpuSeconds(daemon.pid);
  const indexes = await waitForSearchIndexes(daemon, options.workspace, status.chunks, {
    timeoutMs: options.indexTimeoutMs ?? 10 * 60_000,
    stallMs: options.indexStallMs ?? 20_000,
  });
  const searchIndexes = indexes.atMs;
  const result: ColdIndexResult = {
    expectedChunks,
    chunks: status.chunks,
    documents: status.documents,
    chunksPerSecond: round(status.chunks / (ready / 1000), 1),
    chunksPerSecondSearchable: searchIndexes ? round(status.chunks / (searchIndexes / 1000), 1) : null,
    searchIndexes: indexes.outcome,
    indexColumns: indexes.columns,
    phasesMs: {
      socket: round(socket, 1),
      scanned: scanned === null ? null : round(scanned, 1),
      ready: round(ready, 1),
      searchIndexes: searchIndexes === null ? null : round(searchIndexes, 1),
    },
    vectorIndexBuildMs: vectorIndexBuildMs(daemon),
    cpuSeconds,
  };
  return { result, client };
}

/** The daemon logs `built the vector index rows=N ms=M` (at info level) when it has built it. */
function vectorIndexBuildMs(daemon: DaemonProcess): number | null {
  const line = daemon.lines.find((l) => l.text.includes('built the vector index'));
  const ms = line ? /\bms=(\d+)/.exec(line.text)?.[1] : undefined;
  return ms === undefined ? null : Number(ms);
}
