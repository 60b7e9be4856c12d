/**
 * The one host of Keel's webviews: a view gets its page and its state at once, again each time it
 * shows, and once more on `ready`; a malformed message is logged and dropped; a failing action is
 * logged and shown; a closed view stops the feed; a view whose page is never heard from is hidden
 * and shown again (a new frame), one that said `loaded` is not. VS Code's API is faked: only what
 * the host uses.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type * as vscode from 'vscode';

const shown: string[] = [];
const executed: string[] = [];
vi.mock('vscode', () => ({
  commands: {
    executeCommand: (id: string) => {
      executed.push(id);
      return Promise.resolve(undefined);
    },
  },
  Uri: {
    joinPath: (base: { path: string }, ...parts: string[]) => ({ path: [base.path, ...parts].join('/') }),
  },
  ViewColumn: { Active: -1 },
  window: {
    showErrorMessage: (text: string) => {
      shown.push(text);
      return Promise.resolve(undefined);
    },
  },
}));

const { WebviewViewHost } = await import('../../extension/src/webviewHost/webviewViewHost');
const { WEBVIEW_RETRY } = await import('../../extension/src/webviewHost/readyHandshake');
type ActionOf<In> = import('../../extension/src/webviewHost/webviewViewHost').ActionOf<In>;

const Incoming = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('loaded') }),
  z.object({ type: z.literal('open'), id: z.string() }),
]);
type Incoming = z.infer<typeof Incoming>;
type Outgoing = { type: 'state'; n: number };

function emitter<T>(): {
  event: (listener: (value: T) => void) => vscode.Disposable;
  fire: (value: T) => void;
} {
  const listeners = new Set<(value: T) => void>();
  return {
    event: (listener) => {
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
    fire: (value) => listeners.forEach((listener) => listener(value)),
  };
}

function fakeView() {
  const received = emitter<unknown>();
  const visibility = emitter<void>();
  const disposed = emitter<void>();
  const posted: unknown[] = [];
  const view = {
    viewType: 'test.view',
    visible: true,
    webview: {
      options: {},
      html: '',
      cspSource: 'vscode-resource:',
      asWebviewUri: (uri: { path: string }) => ({ toString: () => `webview:${uri.path}` }),
      postMessage: (message: unknown) => {
        posted.push(message);
        return Promise.resolve(true);
      },
      onDidReceiveMessage: received.event,
    },
    onDidChangeVisibility: visibility.event,
    onDidDispose: disposed.event,
  };
  return {
    view: view as unknown as vscode.WebviewView,
    posted,
    send: received.fire,
    setVisible: (visible: boolean) => {
      view.visible = visible;
      visibility.fire();
    },
    close: () => disposed.fire(),
  };
}

function setUp(handle: (message: ActionOf<Incoming>) => void | Promise<void> = () => {}) {
  const log = { warn: vi.fn(), error: vi.fn() };
  const events: string[] = [];
  let n = 0;
  const host = new WebviewViewHost<Incoming, Outgoing>({
    extensionUri: { path: '/ext' } as unknown as vscode.Uri,
    name: 'the test view',
    page: { script: 'test.js', style: 'test.css', title: 'Test', main: '<main></main>' },
    incoming: Incoming,
    catchUp: () => [{ type: 'state', n: ++n }],
    handle,
    output: log as unknown as vscode.LogOutputChannel,
    onReady: () => events.push('ready'),
    onVisibility: (visible) => events.push(`visible ${visible}`),
    onClosed: () => events.push('closed'),
  });
  hosts.push(host);
  return { host, log, events };
}

const hosts: { dispose(): void }[] = [];
afterEach(() => {
  hosts.splice(0).forEach((host) => host.dispose());
  shown.length = 0;
  executed.length = 0;
  vi.useRealTimers();
});

describe('webview host', () => {
  it('writes the page with its own script and style and sends the state at once', () => {
    const { host } = setUp();
    const { view, posted } = fakeView();
    host.resolve(view);
    expect(view.webview.html).toContain('webview:/ext/dist/webview/test.js');
    expect(view.webview.html).toContain('webview:/ext/media/test.css');
    expect(view.webview.options).toMatchObject({ enableScripts: true });
    expect(posted).toEqual([{ type: 'state', n: 1 }]);
  });

  it('answers ready with the state once more, and sends it again when the view shows again', () => {
    const { host, events } = setUp();
    const { view, posted, send, setVisible } = fakeView();
    host.resolve(view);
    send({ type: 'ready' });
    expect(posted).toEqual([
      { type: 'state', n: 1 },
      { type: 'state', n: 2 },
    ]);
    expect(events).toEqual(['ready']);
    setVisible(false);
    setVisible(true);
    expect(posted).toHaveLength(3);
    expect(events).toEqual(['ready', 'visible false', 'visible true']);
  });

  it('hands actions to the feature and drops malformed messages with a warning', () => {
    const handled: unknown[] = [];
    const { host, log } = setUp((message) => void handled.push(message));
    const { view, send } = fakeView();
    host.resolve(view);
    send({ type: 'open', id: 'p-1' });
    send({ type: 'open' });
    send({ type: 'delete everything' });
    expect(handled).toEqual([{ type: 'open', id: 'p-1' }]);
    expect(log.warn).toHaveBeenCalledTimes(2);
    expect(log.warn.mock.calls[0]![0]).toContain('the test view');
  });

  it('logs and shows a failing action instead of throwing it at the page', async () => {
    const { host, log } = setUp(() => Promise.reject(new Error('the daemon is not running')));
    const { view, send } = fakeView();
    host.resolve(view);
    send({ type: 'open', id: 'p-1' });
    await expect.poll(() => shown).toEqual(['Keel: the daemon is not running']);
    expect(log.error).toHaveBeenCalledOnce();
  });

  it('stops posting and tells the feature once the view is closed', () => {
    const { host, events } = setUp();
    const { view, posted, close } = fakeView();
    host.resolve(view);
    close();
    host.post({ type: 'state', n: 99 });
    expect(posted).toHaveLength(1);
    expect(events).toEqual(['visible false', 'closed']);
  });

  it('hides and shows a view whose page says nothing through every catch-up, and says so in the log', async () => {
    vi.useFakeTimers();
    const { host, log } = setUp();
    const { view, posted } = fakeView();
    host.resolve(view);
    await vi.advanceTimersByTimeAsync(WEBVIEW_RETRY.intervalMs * WEBVIEW_RETRY.attempts);
    expect(posted).toHaveLength(WEBVIEW_RETRY.attempts);
    expect(executed).toEqual(['test.view.toggleVisibility', 'test.view.toggleVisibility']);
    expect(log.warn.mock.calls[0]![0]).toBe('Loading the test view again: its page did not load (1 of 2).');
  });

  it('leaves a view whose page said loaded alone, and does not hand loaded to the feature', async () => {
    vi.useFakeTimers();
    const handled: unknown[] = [];
    const { host } = setUp((message) => void handled.push(message));
    const { view, posted, send } = fakeView();
    host.resolve(view);
    send({ type: 'loaded' });
    await vi.advanceTimersByTimeAsync(WEBVIEW_RETRY.intervalMs * (WEBVIEW_RETRY.attempts + 2));
    expect(posted).toHaveLength(1);
    expect(executed).toEqual([]);
    expect(handled).toEqual([]);
  });
});
