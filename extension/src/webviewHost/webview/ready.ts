/**
 * What every Keel webview script tells its host about itself: `ready` once it listens for the host's
 * messages, and `loaded` when the first one arrives (the host sent it unasked, so `ready` was late or
 * lost). The host catches the view up on `ready`, and also without it; a page it never hears from
 * did not load, and is loaded again (../readyHandshake.ts, ../silentWebview.ts). A test may hold
 * `ready` back (`data-ready-delay-ms` on the body, set by ../webviewPage.ts).
 */
export function announceReady(post: (message: { type: 'ready' } | { type: 'loaded' }) => void): void {
  const received = (event: MessageEvent<{ type?: unknown } | null>): void => {
    if (typeof event.data?.type !== 'string') return;
    window.removeEventListener('message', received);
    post({ type: 'loaded' });
  };
  window.addEventListener('message', received);
  const delay = Number(document.body.dataset.readyDelayMs ?? 0);
  if (delay > 0) window.setTimeout(() => post({ type: 'ready' }), delay);
  else post({ type: 'ready' });
}
