/**
 * The `ready` every Keel webview script posts once it listens for the host's messages. The host
 * catches the view up when it arrives, and also without it (../readyHandshake.ts). A test may
 * hold it back (`data-ready-delay-ms` on the body, set by ../webviewPage.ts).
 */
export function announceReady(post: () => void): void {
  const delay = Number(document.body.dataset.readyDelayMs ?? 0);
  if (delay > 0) window.setTimeout(post, delay);
  else post();
}
