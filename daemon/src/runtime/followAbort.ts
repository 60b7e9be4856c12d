/**
 * Makes `child` abort (with the same reason) when `parent` does, until the returned function lets
 * go: one listener, removed when the work ends. AbortSignal.any does the same, but keeps the new
 * signal among the parent's dependents and costs more than a model call's own bookkeeping (issue
 * 14); AbortSignal.timeout's timer outlives the work it bounds.
 */
export function followAbort(parent: AbortSignal, child: AbortController): () => void {
  const abort = (): void => child.abort(parent.reason);
  if (parent.aborted) {
    abort();
    return () => undefined;
  }
  parent.addEventListener('abort', abort, { once: true });
  return () => parent.removeEventListener('abort', abort);
}
