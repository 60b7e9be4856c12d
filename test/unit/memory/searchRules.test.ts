/** Freshness and filters: what makes a result stale, and how filters become LanceDB SQL. */
import { describe, expect, it } from 'vitest';
import { addDays, filterSql, isStale } from '../../../daemon/src/memory/search';

describe('staleness', () => {
  const today = '2026-11-25';
  it('is stale past its review-by date, fresh before it, whatever its age', () => {
    expect(isStale('2026-11-24', '2026-11-20', today, 365)).toBe(true);
    expect(isStale('2026-11-25', '2020-01-01', today, 365)).toBe(false);
  });
  it('without review-by, is stale when older than maxAgeDays', () => {
    expect(isStale(null, addDays(today, -31), today, 30)).toBe(true);
    expect(isStale(null, addDays(today, -30), today, 30)).toBe(false);
    expect(isStale(null, null, today, 30)).toBe(false);
  });
});

describe('filters', () => {
  it('combines type, tags, path and dates, quoting every value', () => {
    expect(
      filterSql({
        type: ['customer', "o'brien"],
        tags: ['vip'],
        pathPrefix: './memory/',
        dateFrom: '2026-01-01',
        dateTo: '2026-12-31',
      }),
    ).toBe(
      "type IN ('customer', 'o''brien') AND array_has_any(tags, ['vip']) AND starts_with(path, 'memory/') " +
        "AND date >= '2026-01-01' AND date <= '2026-12-31'",
    );
    expect(filterSql(undefined)).toBeNull();
    expect(filterSql({})).toBeNull();
  });
});
