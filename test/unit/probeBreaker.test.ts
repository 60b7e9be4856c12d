/**
 * A connector's breaker as each reader sees it: governance's breaker state from the last probe,
 * the refusal an action gets (probe, detail, when, how to retry), the one alert per outage, the
 * editor's notice, the dashboard's line; a server's words as bounded plain text; a sample answer
 * that drifted named by its field; `probeMinutes` in keel.yaml.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConnectorConfig, type ControlState } from '@keel/schemas';
import { alertOfBreaker } from '../../daemon/src/alerts/alertText';
import { checkSample, ProbeDriftError } from '../../daemon/src/connectors/probeCheck';
import {
  plainText,
  probeBreaker,
  ProbeRecords,
  probeRefusal,
  type ProbeRecord,
} from '../../daemon/src/connectors/probeRecords';
import { EditorAlerts } from '../../extension/src/alerts/editorAlerts';
import { breakerWarnings } from '../../extension/src/dashboard/dashboardModel';

const failed: ProbeRecord = {
  fingerprint: 'f',
  probe: { ok: false, detail: 'IMAP login refused', at: '2026-12-03T10:00:00.000Z' },
  failingSince: '2026-12-03T10:00:00.000Z',
  passedAt: '2026-12-02T10:00:00.000Z',
};
const passed: ProbeRecord = {
  ...failed,
  probe: { ok: true, detail: 'ok', at: '2026-12-03T11:00:00.000Z' },
  failingSince: null,
  passedAt: '2026-12-03T11:00:00.000Z',
};

const control = (breakers: ControlState['breakers']): ControlState => ({
  stopped: false,
  stoppedAt: null,
  reason: null,
  breakers,
  quotas: [],
});

describe("a connector's breaker", () => {
  it('is open after a failed probe, with its detail and time, and closed after a passing one', () => {
    expect(probeBreaker('mail', failed)).toMatchObject({
      name: 'connector:mail',
      state: 'open',
      retryAt: null,
      reason: 'probe failed at 2026-12-03T10:00:00.000Z: IMAP login refused',
    });
    expect(probeBreaker('mail', passed)).toMatchObject({
      state: 'closed',
      succeededAt: '2026-12-03T11:00:00.000Z',
      reason: null,
    });
  });

  it('refuses actions naming the probe, its detail, when, and how to retry', () => {
    const refusal = probeRefusal('mail', 'email@1', failed)!;
    expect(refusal).toContain('"mail" (email@1)');
    expect(refusal).toContain('drift probe failed at 2026-12-03T10:00:00.000Z (IMAP login refused)');
    expect(refusal).toContain('"keel connectors check mail"');
    expect(probeRefusal('mail', 'email@1', passed)).toBeNull();
    expect(probeRefusal('mail', 'email@1', null)).toBeNull();
  });

  it('alerts once per failure, tells the editor and shows on the dashboard with the fix', () => {
    const open = probeBreaker('mail', failed);
    const alert = alertOfBreaker(open)!;
    expect(alert.kind).toBe('breakerOpened');
    expect(alert.subject).toBe('Keel: circuit breaker opened for connector mail');
    expect(alert.text).toContain('keel connectors check mail');
    expect(alertOfBreaker(probeBreaker('mail', passed))).toBeNull();

    const editor = new EditorAlerts();
    expect(editor.controlChanged(control([]))).toEqual([]);
    const notices = editor.controlChanged(control([open]));
    expect(notices.map((n) => n.message)).toEqual([
      'Keel: the connector mail failed its drift probe; its actions are refused until a probe passes ("keel connectors check mail").',
    ]);
    expect(breakerWarnings(control([open]), (iso) => iso)).toEqual([
      'connector:mail: open, its actions are refused (probe failed at 2026-12-03T10:00:00.000Z: IMAP login refused); ' +
        '"keel connectors check mail" closes it once the probe passes.',
    ]);
  });
});

describe("a server's words", () => {
  it('become one line of plain text, bounded', () => {
    expect(plainText('Dovecot\r\n\u001b[31mready\u0007\u202e', 200)).toBe('Dovecot [31mready');
    const long = plainText('x'.repeat(1_000), 200);
    expect(long).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('a sample answer that drifted', () => {
  it('fails naming each field path, at most five', () => {
    const schema = z.object({ events: z.array(z.object({ uid: z.string(), start: z.string() })) });
    expect(checkSample('x.list', schema, { events: [{ uid: 'a', start: 's' }] })).toEqual({
      events: [{ uid: 'a', start: 's' }],
    });
    expect(() => checkSample('x.list', schema, { events: [{ uid: 1, start: 's' }] })).toThrow(
      ProbeDriftError,
    );
    expect(() => checkSample('x.list', schema, { events: [{ uid: 1, start: 's' }] })).toThrow(
      /the answer to x\.list no longer matches the connector's schema: "events\.0\.uid"/,
    );
    const many = Array.from({ length: 8 }, () => ({}));
    expect(() => checkSample('x.list', schema, { events: many })).toThrow(/and 11 more/);
  });
});

describe('probeMinutes in keel.yaml', () => {
  it('is 0 (off) or at least 0.05, at most a week', () => {
    const parse = (probeMinutes: number) =>
      ConnectorConfig.safeParse({ use: 'email@1', probeMinutes }).success;
    expect(parse(0)).toBe(true);
    expect(parse(30)).toBe(true);
    expect(parse(0.01)).toBe(false);
    expect(parse(-1)).toBe(false);
    expect(parse(20_000)).toBe(false);
  });
});

describe('probe records on disk', () => {
  it('keep every result when many probes end at once (a restart still sees each failure)', async () => {
    const workspace = await mkdtemp(join(tmpdir(), 'keel-probes-'));
    try {
      await mkdir(join(workspace, '.keel'), { recursive: true });
      const records = await ProbeRecords.load(workspace, () => undefined);
      const at = '2026-12-03T09:00:00.000Z';
      await Promise.all(
        Array.from({ length: 24 }, (_, i) =>
          records.record(`c${i}`, 'f', { ok: i % 2 === 0, detail: `probe ${i}`, at }),
        ),
      );
      const reloaded = await ProbeRecords.load(workspace, () => undefined);
      for (let i = 0; i < 24; i++) expect(reloaded.get(`c${i}`, 'f')?.probe.ok).toBe(i % 2 === 0);
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  });
});
