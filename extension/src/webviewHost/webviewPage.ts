/**
 * The page every Keel webview starts from: a Content-Security-Policy that allows the extension's
 * own stylesheet and one nonce'd script, and nothing else (no inline code, no network).
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export function webviewPage(
  webview: vscode.Webview,
  page: { script: vscode.Uri; style: vscode.Uri; title: string; main: string },
): string {
  const nonce = randomBytes(16).toString('base64');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy"
    content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${webview.asWebviewUri(page.style).toString()}">
  <title>${page.title}</title>
</head>
<body${readyDelayAttribute()}>
  ${page.main}
  <script nonce="${nonce}" src="${webview.asWebviewUri(page.script).toString()}"></script>
</body>
</html>`;
}

/**
 * A test hook: `KEEL_TEST_WEBVIEW_READY_DELAY_MS` in the extension host's environment makes every
 * Keel webview hold its `ready` message that long (webview/ready.ts), as a lost or slow `ready`
 * would, so that the end-to-end tests can show the views render without it (readyHandshake.ts).
 */
function readyDelayAttribute(): string {
  const delay = Number(process.env.KEEL_TEST_WEBVIEW_READY_DELAY_MS);
  return Number.isInteger(delay) && delay > 0 ? ` data-ready-delay-ms="${delay}"` : '';
}
