/**
 * RE2 (re2js, a pure-JavaScript port), loaded at its first use: building its tables took 1-3 ms
 * of every `keel` start, though only a schema with a `pattern` or an eval's regex check needs it
 * (issue 14). A plain `require`, bundled and covered by the code cache, as runtime/duckdb.ts.
 */
import type { RE2JS } from 're2js';

let re2: typeof RE2JS | undefined;

/**
 * The ECMA-262 pattern compiled by RE2, matched in time linear in the text (no lookaround or
 * backreferences: those throw). translateRegExp rewrites the escapes RE2 spells otherwise
 * (`\u00C0` becomes `\x{00C0}`, `\cJ` a byte).
 */
export function compileLinear(pattern: string): RE2JS {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: bundled, loaded late
  re2 ??= (require('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  return re2.compile(re2.translateRegExp(pattern));
}
