/**
 * Environment for a daemon process, set by whoever starts one (the editor, `keel daemon`): a
 * contract between two processes, so it lives here, where the extension may import it. glibc
 * serves large allocations from its heaps below a threshold that grows up to 32 MB and keeps them
 * when freed: after indexing 100,000 chunks a daemon held 130 MB it no longer used. A fixed 64 KB
 * threshold maps large temporary buffers and returns them on free (measured: 709 -> 573 MB after
 * indexing and searching 100,000 chunks; search latency unchanged). glibc reads it only at process
 * start; other C libraries ignore it. daemon/bin/keel.cjs repeats the value (a test keeps them equal).
 */
export const DAEMON_ENVIRONMENT: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };

/** `base` with the daemon's settings added where `base` does not set them already. */
export function daemonEnvironment(
  base: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> {
  const env = { ...base };
  for (const [key, value] of Object.entries(DAEMON_ENVIRONMENT)) env[key] ??= value;
  return env;
}

/** Set by the editor for a daemon it starts in VS Code's Restricted Mode: index and search only. */
export const EDITOR_RESTRICTED_ENV = 'KEEL_EDITOR_RESTRICTED';
