/**
 * Wall-clock times in an IANA zone, with nothing but Intl: the offset of a zone at an instant, and
 * the instant of a local date and time there. Enough for working hours and TZID times without a
 * time-zone database of Keel's own (Node's ICU has one).
 */

/** Offset of `zone` from UTC at `instant`, in ms (Berlin in winter: +3_600_000). */
export function zoneOffset(zone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const local = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return local - Math.floor(instant / 1000) * 1000;
}

/** The instant at which the clocks of `zone` show this local time (month 1-12). */
export function zonedInstant(
  zone: string,
  local: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number },
): number {
  const asUtc = Date.UTC(
    local.year,
    local.month - 1,
    local.day,
    local.hour ?? 0,
    local.minute ?? 0,
    local.second ?? 0,
  );
  // Two passes settle the offset also next to a DST change.
  let instant = asUtc - zoneOffset(zone, asUtc);
  instant = asUtc - zoneOffset(zone, instant);
  return instant;
}

/** The local calendar date of `instant` in `zone`, with its ISO weekday (1 = Monday). */
export function localDate(
  zone: string,
  instant: number,
): { year: number; month: number; day: number; weekday: number } {
  const shifted = new Date(instant + zoneOffset(zone, instant));
  const weekday = shifted.getUTCDay() === 0 ? 7 : shifted.getUTCDay();
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    weekday,
  };
}
