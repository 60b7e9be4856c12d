/**
 * The daemon's protocol trace goes to Keel's log channel. At log level Trace, with
 * `keel.trace.server: verbose`, vscode-languageclient writes every message's params there, the
 * model API key's and connector credentials' too; this channel blanks them out of everything
 * written through it.
 */
import type * as vscode from 'vscode';

const HIDDEN = '«redacted»';

export function redactingChannel(
  channel: vscode.LogOutputChannel,
  secret: () => string | null | readonly string[],
): vscode.LogOutputChannel {
  const redact = (text: string): string => {
    const current = secret();
    const values = current === null ? [] : typeof current === 'string' ? [current] : current;
    return values.reduce((out, value) => (value ? out.replaceAll(value, HIDDEN) : out), text);
  };
  return {
    get name() {
      return channel.name;
    },
    get logLevel() {
      return channel.logLevel;
    },
    onDidChangeLogLevel: channel.onDidChangeLogLevel,
    trace: (message, ...args: unknown[]) => channel.trace(redact(message), ...args),
    debug: (message, ...args: unknown[]) => channel.debug(redact(message), ...args),
    info: (message, ...args: unknown[]) => channel.info(redact(message), ...args),
    warn: (message, ...args: unknown[]) => channel.warn(redact(message), ...args),
    error: (error, ...args: unknown[]) =>
      channel.error(typeof error === 'string' ? redact(error) : redact(error.message), ...args),
    append: (value) => channel.append(redact(value)),
    appendLine: (value) => channel.appendLine(redact(value)),
    replace: (value) => channel.replace(redact(value)),
    clear: () => channel.clear(),
    show: (column?: boolean | vscode.ViewColumn, preserveFocus?: boolean) =>
      typeof column === 'boolean' ? channel.show(column) : channel.show(column, preserveFocus),
    hide: () => channel.hide(),
    // The channel is Keel's, shared with the extension: the language client must not close it.
    dispose: () => undefined,
  };
}
