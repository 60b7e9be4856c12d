/**
 * The daemon's log: one line per event on stderr (the extension shows it under Keel: Show Logs).
 * Secrets registered with `redact` never reach the output, whatever message they end up in.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Never print this value again; it is replaced by `[redacted]`. */
  redact(secret: string): void;
}

export function createLogger(
  options: { level?: LogLevel; write?: (line: string, level: LogLevel) => void } = {},
): Logger {
  const threshold = LEVEL_ORDER[options.level ?? envLevel() ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const secrets = new Set<string>();

  const scrub = (text: string): string => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('[redacted]');
    return out;
  };

  const log = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LEVEL_ORDER[level] < threshold) return;
    const extras = fields
      ? Object.entries(fields)
          .map(([key, value]) => `${key}=${formatValue(value)}`)
          .join(' ')
      : '';
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${extras ? ' ' + extras : ''}`;
    write(scrub(line), level);
  };

  return {
    debug: (m, f) => log('debug', m, f),
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
    redact: (secret) => {
      if (secret.length >= 8) secrets.add(secret);
    },
  };
}

function envLevel(): LogLevel | undefined {
  const level = process.env.KEEL_LOG_LEVEL;
  return level && level in LEVEL_ORDER ? (level as LogLevel) : undefined;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}
