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
import { round } from '../stats';

export interface ColdIndexResult {
  expectedChunks: number;
  chunks: number;
  documents: number;
  /** chunks / seconds from spawn to `ready` with the full count (the acceptance's definition). */
  chunksPerSecond: number;
  /** chunks / seconds from spawn until the full-text and vector indexes exist (null below 20,000 rows). */
  chunksPerSecondSearchable: number | null;
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
/** LanceDB's vector index is built at this many rows (VECTOR_INDEX_MIN_ROWS in chunkIndex.ts). */
const VECTOR_INDEX_MIN_ROWS = 20_000;

export async function measureColdIndex(
  daemon: DaemonProcess,
  expectedChunks: number,
  timeoutMs = 30 * 60_000,
): Promise<{ result: ColdIndexResult; client: SocketClient }> {
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
  const built = status.chunks >= VECTOR_INDEX_MIN_ROWS ? await vectorIndexLine(daemon) : null;
  const searchIndexes = built ? built.at - daemon.spawnedAt : null;
  const result: ColdIndexResult = {
    expectedChunks,
    chunks: status.chunks,
    documents: status.documents,
    chunksPerSecond: round(status.chunks / (ready / 1000), 1),
    chunksPerSecondSearchable: searchIndexes ? round(status.chunks / (searchIndexes / 1000), 1) : null,
    phasesMs: {
      socket: round(socket, 1),
      scanned: scanned === null ? null : round(scanned, 1),
      ready: round(ready, 1),
      searchIndexes: searchIndexes === null ? null : round(searchIndexes, 1),
    },
    vectorIndexBuildMs: built?.ms ?? null,
    cpuSeconds,
  };
  return { result, client };
}

/** The daemon logs `built the vector index rows=N ms=M` once both search indexes exist. */
async function vectorIndexLine(daemon: DaemonProcess): Promise<{ at: number; ms: number | null }> {
  const line = await daemon.waitForLog(/built the vector index/, 10 * 60_000);
  const ms = /\bms=(\d+)/.exec(line.text)?.[1];
  return { at: line.at, ms: ms === undefined ? null : Number(ms) };
}
