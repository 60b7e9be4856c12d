/** Small helpers for what the CLI prints. */

/** `3d 4h`, `2h 5m`, `4m 12s`, `9s`; with `precise`, short spans as `1.3 s` or `120 ms`. */
export function formatDuration(ms: number, precise = false): string {
  if (precise && ms < 1_000) return `${Math.round(ms)} ms`;
  if (precise && ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  const [d, h, m, s] = [
    Math.floor(seconds / 86_400),
    Math.floor((seconds % 86_400) / 3_600),
    Math.floor((seconds % 3_600) / 60),
    seconds % 60,
  ];
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
