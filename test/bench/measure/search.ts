/**
 * Search latency: the seeded queries one after another on one connection, after a warm-up. Each
 * query is timed twice: inside the daemon (the answer's `tookMs`) and over the socket (the round
 * trip as the client sees it, including JSON and the client's schema check).
 */
import { MemorySearchRequest, type ResultOf } from '@keel/schemas';
import type { SocketClient } from '../../../daemon/src/rpc/socketClient';
import { summarize, type Summary } from '../stats';
import type { BenchQuery } from '../workload/queries';

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
}

const WARMUP = 20;

export async function measureSearch(client: SocketClient, queries: BenchQuery[]): Promise<SearchResult> {
  for (const query of queries.slice(0, WARMUP)) await ask(client, query);
  const inside: number[] = [];
  const roundTrip: number[] = [];
  const byFilter: { filtered: number[]; unfiltered: number[] } = { filtered: [], unfiltered: [] };
  let emptyAnswers = 0;
  for (const query of queries) {
    const started = performance.now();
    const answer = await ask(client, query);
    roundTrip.push(performance.now() - started);
    inside.push(answer.tookMs);
    (query.filter ? byFilter.filtered : byFilter.unfiltered).push(answer.tookMs);
    if (answer.results.length === 0) emptyAnswers++;
  }
  return {
    queries: queries.length,
    warmup: Math.min(WARMUP, queries.length),
    k: queries[0]?.k ?? 10,
    daemon: summarize(inside),
    socket: summarize(roundTrip),
    unfiltered: summarize(byFilter.unfiltered),
    filtered: summarize(byFilter.filtered),
    emptyAnswers,
  };
}

export function ask(client: SocketClient, query: BenchQuery): Promise<ResultOf<typeof MemorySearchRequest>> {
  return client.request(MemorySearchRequest, {
    query: query.query,
    k: query.k,
    ...(query.filter ? { filter: query.filter } : {}),
  });
}
