/**
 * Runbook triggers as written: cron slots computed in the trigger's time zone (daylight saving
 * included), and every mistake in a trigger reported at its exact place in the YAML.
 */
import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../daemon/src/conductor/runbookFile';
import { Schedule } from '../../daemon/src/conductor/triggerSchedule';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

describe('a schedule', () => {
  it('computes its slots in its time zone, across a daylight-saving change', () => {
    const amsterdam = new Schedule('0 9 * * *', 'Europe/Amsterdam');
    const newYork = new Schedule('0 9 * * *', 'America/New_York');
    // 09:00 in Amsterdam is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    expect(iso(amsterdam.nextAfter(at('2026-01-15T00:00:00Z')))).toBe('2026-01-15T08:00:00.000Z');
    expect(iso(amsterdam.nextAfter(at('2026-03-28T12:00:00Z')))).toBe('2026-03-29T07:00:00.000Z');
    expect(iso(newYork.nextAfter(at('2026-01-15T00:00:00Z')))).toBe('2026-01-15T14:00:00.000Z');
    expect(iso(newYork.latestAtOrBefore(at('2026-07-01T12:59:59Z')))).toBe('2026-06-30T13:00:00.000Z');
  });

  it('counts a slot exactly at now as passed, and the next one as strictly after', () => {
    const mondays = new Schedule('0 9 * * 1', 'UTC');
    const slot = at('2026-11-23T09:00:00Z');
    expect(iso(mondays.latestAtOrBefore(slot))).toBe('2026-11-23T09:00:00.000Z');
    expect(iso(mondays.latestAtOrBefore(slot - 1))).toBe('2026-11-16T09:00:00.000Z');
    expect(iso(mondays.nextAfter(slot))).toBe('2026-11-30T09:00:00.000Z');
  });
});

const RUNBOOK = (triggers: string): string => `apiVersion: keel/v1
name: weekly
role: Reporter
description: The weekly report.
inputs:
  week: { type: string }
triggers:
${triggers}
steps:
  - id: note
    type: connector
    use: fs.outbox@1
    with: { path: weekly.md, content: "{{ inputs.week }}" }
`;

describe('a runbook with triggers', () => {
  it('is manual unless it says otherwise', () => {
    const parsed = parseRunbook(
      RUNBOOK('  - type: manual').replace('triggers:\n  - type: manual\n', ''),
      'r.yaml',
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.runbook?.triggers).toEqual([{ type: 'manual' }]);
  });

  it('reads schedule and fileChanged triggers with their inputs', () => {
    const parsed = parseRunbook(
      RUNBOOK(`  - type: manual
  - type: schedule
    cron: "0 9 * * 1"
    timezone: Europe/Amsterdam
    inputs: { week: "{{ trigger.slot }}" }
  - type: fileChanged
    paths: ["memory/calls/**/*.md"]
    inputs: { week: "{{ trigger.path }}" }`),
      'runbooks/weekly.yaml',
    );
    expect(parsed.problems).toEqual([]);
    expect(parsed.runbook?.triggers).toHaveLength(3);
  });

  it('reports an invalid cron at the cron, with what is wrong', () => {
    const parsed = parseRunbook(
      RUNBOOK(`  - type: schedule
    cron: "61 9 * * 1"
    inputs: { week: now }`),
      'runbooks/weekly.yaml',
    );
    expect(parsed.runbook).toBeNull();
    expect(parsed.problems).toEqual([
      expect.objectContaining({
        path: 'runbooks/weekly.yaml',
        line: 9,
        column: 11,
        message: expect.stringMatching(
          /^triggers\.0\.cron: "61 9 \* \* 1" is not a valid cron pattern: .*minute/,
        ),
      }),
    ]);
  });

  it('asks for five cron fields, an IANA time zone, declared inputs and relative globs', () => {
    const parsed = parseRunbook(
      RUNBOOK(`  - type: schedule
    cron: "*/5 * * * * *"
    timezone: Mars/Olympus
    inputs: { week: now, day: monday }
  - type: fileChanged
    paths: ["/etc/**", "memory/**/*.md"]`),
      'runbooks/weekly.yaml',
    );
    const messages = parsed.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
    expect(messages).toEqual([
      expect.stringMatching(/^9:11 triggers\.0\.cron: cron needs five fields/),
      expect.stringMatching(/^10:15 triggers\.0\.timezone: "Mars\/Olympus" is not a time zone/),
      expect.stringMatching(/^11:31 triggers\.0\.inputs\.day: "day" is not an input of this runbook/),
      expect.stringMatching(/^13:13 triggers\.1\.paths\.0: "\/etc\/\*\*" must be a glob relative/),
      expect.stringMatching(
        /^12:5 triggers\.1: the fileChanged trigger gives no value for the required input "week"/,
      ),
    ]);
  });
});
