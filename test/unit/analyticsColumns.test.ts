/**
 * What an analytics table is made of: one type per column inferred from the rows (integers,
 * decimals, booleans, ISO times, text; lists and objects as JSON text), names held to identifier
 * rules, the caps; CSV exports read as rows; and the runbook fields (`into:`, `query`) refused
 * with the file and line when they are wrong.
 */
import { describe, expect, it } from 'vitest';
import {
  checkName,
  checkRows,
  compatible,
  inferColumns,
  inferType,
  MAX_ROWS,
} from '../../daemon/src/analytics/columns';
import { parseCsv } from '../../daemon/src/analytics/exportFile';
import { parseRunbook } from '../../daemon/src/conductor/runbookFile';

describe('column types', () => {
  it('takes the narrowest type every value fits, nulls aside', () => {
    expect(inferType([1, 2, null, 3])).toBe('BIGINT');
    expect(inferType([1, 2.5])).toBe('DOUBLE');
    expect(inferType([2 ** 60])).toBe('DOUBLE');
    expect(inferType([true, false, null])).toBe('BOOLEAN');
    expect(inferType(['2026-12-01', '2026-12-03T10:00:00Z', '2026-12-03 10:00:00+01:00'])).toBe(
      'TIMESTAMPTZ',
    );
    expect(inferType(['2026-12-01', 'yesterday'])).toBe('VARCHAR');
    expect(inferType(['2026-13-45'])).toBe('VARCHAR');
    expect(inferType([1, 'one'])).toBe('VARCHAR');
    expect(inferType([{ a: 1 }, [1, 2]])).toBe('VARCHAR');
    expect(inferType([null, undefined])).toBe('VARCHAR');
  });

  it('lists the columns of all rows in first-seen order', () => {
    expect(
      inferColumns([
        { id: 1, page: '/a' },
        { id: 2, visits: 4.5 },
      ]),
    ).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'page', type: 'VARCHAR' },
      { name: 'visits', type: 'DOUBLE' },
    ]);
  });

  it('widens an existing column only where no value is lost', () => {
    expect(compatible('DOUBLE', 'BIGINT')).toBe(true);
    expect(compatible('VARCHAR', 'BIGINT')).toBe(true);
    expect(compatible('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')).toBe(true);
    expect(compatible('BIGINT', 'DOUBLE')).toBe(false);
    expect(compatible('BOOLEAN', 'VARCHAR')).toBe(false);
  });
});

describe('names and caps', () => {
  it('holds names to identifier rules and keeps keel* for Keel', () => {
    expect(checkName('visits_2026', 'table')).toBe('visits_2026');
    for (const bad of [
      'Visits',
      '2026',
      'a-b',
      'a b',
      'a"b',
      'keel',
      'keel_runs',
      '_keel_batch',
      'x'.repeat(64),
    ]) {
      expect(() => checkName(bad, 'column'), bad).toThrow(/column name .* is not allowed/);
    }
  });

  it('takes a list of objects within the caps, and says what is wrong otherwise', () => {
    expect(() => checkRows({ items: [] })).toThrow(
      /rows must be a list of objects, got object; point "rows:" at the list/,
    );
    expect(() => checkRows([1])).toThrow(/row 0 is not an object/);
    expect(() => checkRows(Array.from({ length: MAX_ROWS + 1 }, () => ({})))).toThrow(/more than the 100000/);
    expect(() => checkRows([{ text: 'x'.repeat(100_001) }])).toThrow(/longer than 100000 characters/);
  });
});

describe('CSV exports', () => {
  it('reads quoted fields, numbers, booleans and empty cells', () => {
    const rows = parseCsv('\uFEFFid,page,ok,note\r\n1,"/a,b",true,"said ""hi""\nthen"\n2,/c,false,\n');
    expect(rows).toEqual([
      { id: 1, page: '/a,b', ok: true, note: 'said "hi"\nthen' },
      { id: 2, page: '/c', ok: false, note: null },
    ]);
    expect(parseCsv('zip\n01234\n')).toEqual([{ zip: '01234' }]);
  });
});

describe('runbook fields', () => {
  const runbook = (steps: string) =>
    parseRunbook(
      `apiVersion: keel/v1\nname: stats\nrole: Analyst\ndescription: Counts.\nsteps:\n${steps}`,
      'runbooks/stats.yaml',
    );

  it('accepts a connector step with into: and a query step with params', () => {
    const parsed = runbook(`  - id: fetch
    type: connector
    use: stats
    action: get
    into: { table: visits, rows: /items, key: [id] }
  - id: top
    type: query
    sql: SELECT page FROM visits WHERE day >= $since
    params: { since: "{{ inputs.since }}" }
`);
    expect(parsed.problems).toEqual([]);
    expect(parsed.runbook?.steps[0]).toMatchObject({
      into: { table: 'visits', mode: 'append', key: ['id'] },
    });
    expect(parsed.runbook?.steps[1]).toMatchObject({ type: 'query', maxRows: 1000 });
  });

  it('names the file and line of a bad table name or a query without SQL', () => {
    const parsed = runbook(`  - id: fetch
    type: connector
    use: stats
    into: { table: "visits; DROP TABLE x" }
  - id: top
    type: query
`);
    const found = parsed.problems.map((p) => [p.path, p.line, p.message]);
    expect(found).toEqual([
      ['runbooks/stats.yaml', 9, expect.stringMatching(/lowercase letters, digits and _/)],
      ['runbooks/stats.yaml', 10, expect.stringMatching(/sql/)],
    ]);
  });
});
