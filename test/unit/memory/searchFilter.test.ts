/** The search filter's own rules: time windows, contained paths, globs, and the SQL they become. */
import { describe, expect, it } from 'vitest';
import { SearchFilter, isTimeBound, localDay, resolveTimeBound } from '@keel/schemas';
import { filterSql, globRegex } from '../../../daemon/src/memory/filterSql';

const NOW = new Date('2026-12-03T12:00:00');

describe('time windows', () => {
  it('reads 12h, 30d and 2w back from now, and plain dates as given', () => {
    expect(resolveTimeBound('30d', NOW)).toBe('2026-11-03');
    expect(resolveTimeBound('2w', NOW)).toBe('2026-11-19');
    expect(resolveTimeBound('12h', NOW)).toBe('2026-12-03');
    expect(resolveTimeBound('36h', NOW)).toBe('2026-12-02');
    expect(resolveTimeBound('0d', NOW)).toBe(localDay(NOW));
    expect(resolveTimeBound('2026-01-31', NOW)).toBe('2026-01-31');
  });

  it('refuses anything else, naming the allowed forms', () => {
    for (const bad of ['30x', '30', 'd30', '-3d', '1.5d', '2026-02-30', '2026-1-1', '30 days', ''])
      expect(isTimeBound(bad), bad).toBe(false);
    const parsed = SearchFilter.safeParse({ since: '30x' });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toBe(
      '"30x" is not a time: write a window back from now: a number and h, d or w (`12h`, `30d`, `2w`), or a date `YYYY-MM-DD`',
    );
    expect(() => resolveTimeBound('soon', NOW)).toThrow(/not a time/);
  });
});

describe('path filters', () => {
  it('turns globs into anchored expressions: * within a folder, ** across, ? one character', () => {
    const matches = (glob: string, path: string): boolean => new RegExp(globRegex(glob)).test(path);
    expect(matches('memory/*.md', 'memory/a.md')).toBe(true);
    expect(matches('memory/*.md', 'memory/sub/a.md')).toBe(false);
    expect(matches('memory/**/*.md', 'memory/a.md')).toBe(true);
    expect(matches('memory/**/*.md', 'memory/x/y/a.md')).toBe(true);
    expect(matches('memory/**/*.md', 'memoryX/a.md')).toBe(false);
    expect(matches('memory/?.md', 'memory/ab.md')).toBe(false);
    expect(matches('memory/a+b(1).md', 'memory/a+b(1).md')).toBe(true);
    expect(matches('memory/a.md', 'memory/aXmd')).toBe(false);
  });

  it('refuses paths that leave the workspace', () => {
    for (const path of ['../secrets', 'memory/../../etc', '/etc/passwd', 'C:/Windows', '..\\x', 'a\u0000b']) {
      const parsed = SearchFilter.safeParse({ path });
      expect(parsed.success, path).toBe(false);
      expect(parsed.error!.issues[0]!.message).toMatch(/leaves the workspace: write a workspace-relative/);
    }
    expect(SearchFilter.safeParse({ path: './memory/customers/' }).success).toBe(true);
  });
});

describe('filter SQL', () => {
  const clock = { now: NOW, maxAgeDays: 30 };

  it('puts windows, every-tag matching, globs and freshness into one where clause', () => {
    expect(
      filterSql(
        { since: '30d', until: '2026-12-01', tags: ['a', 'b'], tagsMatch: 'all', path: 'memory/**/*.md' },
        clock,
      ),
    ).toBe(
      "array_has_all(tags, ['a', 'b']) AND regexp_like(path, '^memory/(?:.*/)?[^/]*\\.md$') " +
        "AND date >= '2026-11-03' AND date <= '2026-12-01'",
    );
    expect(filterSql({ excludeStale: true }, clock)).toBe(
      "((review_by IS NOT NULL AND review_by >= '2026-12-03') OR " +
        "(review_by IS NULL AND (date IS NULL OR date >= '2026-11-03')))",
    );
    expect(filterSql({ excludeStale: false }, clock)).toBeNull();
  });

  it('keeps every value inside its quotes', () => {
    expect(filterSql({ type: "x' OR 1=1 --", path: "memory/x' OR '1'='1*" }, clock)).toBe(
      "type IN ('x'' OR 1=1 --') AND regexp_like(path, '^memory/x'' OR ''1''=''1[^/]*$')",
    );
  });
});
