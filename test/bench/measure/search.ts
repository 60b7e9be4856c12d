/**
 * Search latency: the seeded queries one after another on one connection, after a warm-up. Each
 * query is timed twice: inside the daemon (the answer's `tookMs`) and over the socket (the round
 * trip as the client sees it, including JSON and the client's schema check). Given the floor
 * (searchFloor.ts), each query is also asked of it, right before or right after Keel (in turn), so
 * a busy moment of the machine slows both.
 */
import { MemorySearchRequest, type ResultOf } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { round, summarize, type Summary } from '../stats';
import type { BenchQuery } from '../workload/queries';
import type { SearchFloor } from './searchFloor';

export interface SearchResult {
  queries: number;
  warmup: number;
  k: number;
  /** Inside the daemon: `tookMs`. */
  daemon: Summary;
  /** Client-side round trip over the unix socket. */
  socket: Summary;
  /** Inside the daemon, split by whether the query had a filter. */
  unfiltered: Summary;
  filtered: Summary;
  /** Queries that found nothing (a filter can legitimately leave nothing). */
  emptyAnswers: number;
  /** The same queries asked of LanceDB alone, interleaved, and Keel's (in the daemon) over it. */
  floor: { latency: Summary; ratio: { p50: number; p99: number } } | null;
}

const WARMUP = 20;

export async function measureSearch(
  client: SocketClient,
  queries: BenchQuery[],
  floor: SearchFloor | null = null,
): Promise<SearchResult> {
  for (const query of queries.slice(0, WARMUP)) {
    await ask(client, query);
    await floor?.search(query);
  }
  const inside: number[] = [];
  const roundTrip: number[] = [];
  const floorMs: number[] = [];
  const byFilter: { filtered: number[]; unfiltered: number[] } = { filtered: [], unfiltered: [] };
  let emptyAnswers = 0;
  const askFloor = async (query: BenchQuery): Promise<void> => {
    if (!floor) return;
    const started = performance.now();
    await floor.search(query);
    floorMs.push(performance.now() - started);
  };
  for (const [i, query] of queries.entries()) {
    if (i % 2 === 1) await askFloor(query);
    const started = performance.now();
    const answer = await ask(client, query);
    roundTrip.push(performance.now() - started);
    inside.push(answer.tookMs);
    (query.filter ? byFilter.filtered : byFilter.unfiltered).push(answer.tookMs);
    if (answer.results.length === 0) emptyAnswers++;
    if (i % 2 === 0) await askFloor(query);
  }
  const daemon = summarize(inside);
  const latency = summarize(floorMs);
  return {
    queries: queries.length,
    warmup: Math.min(WARMUP, queries.length),
    k: queries[0]?.k ?? 10,
    daemon,
    socket: summarize(roundTrip),
    unfiltered: summarize(byFilter.unfiltered),
    filtered: summarize(byFilter.filtered),
    emptyAnswers,
    floor: floor
      ? {
          latency,
          ratio: { p50: round(daemon.p50Ms / latency.p50Ms, 2), p99: round(daemon.p99Ms / latency.p99Ms, 2) },
        }
      : null,
  };
}

export function ask(client: SocketClient, query: BenchQuery): Promise<ResultOf<typeof MemorySearchRequest>> {
  return client.request(MemorySearchRequest, {
    query: query.query,
    k: query.k,
    ...(query.filter ? { filter: query.filter } : {}),
  });
}
