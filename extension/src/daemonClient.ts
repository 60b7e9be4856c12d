/**
 * The one owner of the daemon's lifecycle in the editor: starts keeld through vscode-languageclient,
 * tracks its state, restarts it after a crash with backoff (up to a limit, then a clear error with a
 * Restart action), hands it the model API key after every start, sends typed requests to it and
 * passes its notifications on to typed listeners.
 */
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  ResponseError,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import type { z } from 'zod';
import {
  allMessages,
  daemonEnvironment,
  EDITOR_RESTRICTED_ENV,
  IndexChangedNotification,
  IndexStatusRequest,
  KeelRpcError,
  SetApiKeyRequest,
  SetConnectorSecretRequest,
  ConnectorsListRequest,
  StatusChangedNotification,
  StatusRequest,
  TrustChangedNotification,
  TrustStateRequest,
  type DaemonStatus,
  type IndexStatus,
  type NotificationDefinition,
  type ParamsOf,
  type RequestDefinition,
  type ResultOf,
  type TrustState,
} from '@keel/schemas';
import { type ConnectionState } from '@keel/schemas/src/webviews';
import { redactingChannel } from './redactingChannel';
import { MAX_CRASHES, RestartPolicy } from './restartPolicy';
import { handOverConnectorSecrets, type ConnectorSecretSource } from './connectors/connectorHandOver';
import { modelsOrigin } from './trust/trustModel';

/** Notifications the client itself turns into its snapshot rather than passing on to listeners. */
const OWN_NOTIFICATIONS = new Set<string>([
  StatusChangedNotification.method,
  IndexChangedNotification.method,
  TrustChangedNotification.method,
]);
const RUNBOOK_DOCUMENTS = '**/runbooks/**/*.{yaml,yml}';

export interface DaemonClientSnapshot {
  connection: ConnectionState;
  daemon: DaemonStatus | null;
  restarts: number;
  nextRestartAt: string | null;
  lastError: string | null;
  index: IndexStatus | null;
}

export class DaemonNotRunningError extends Error {
  constructor(state: ConnectionState) {
    super(`The Keel daemon is not running (${state}). Run "Keel: Restart Daemon" to start it.`);
    this.name = 'DaemonNotRunningError';
  }
}

/** The model API key stored for an endpoint origin (the editor's secret storage); undefined when none is. */
export type ApiKeySource = (origin: string) => Thenable<string | undefined>;

type NotificationListener = (params: unknown) => void;

/** Where the keys and credentials the daemon gets after every start are read from. */
export interface DaemonSecretSources {
  readonly apiKeys: ApiKeySource;
  readonly connectorSecrets: ConnectorSecretSource;
}

export class DaemonClient implements vscode.Disposable {
  private client: LanguageClient | null = null;
  private snapshot: DaemonClientSnapshot = {
    connection: 'stopped',
    daemon: null,
    restarts: 0,
    nextRestartAt: null,
    lastError: null,
    index: null,
  };
  private readonly restartPolicy = new RestartPolicy();
  private restartTimer: NodeJS.Timeout | null = null;
  private starting: Promise<void> | null = null;
  /** The operator's restart under way: commands wait for it rather than meet the old daemon leaving. */
  private restarting: Promise<void> | null = null;
  /** Set when the stop is wanted (by us, or the daemon announced it): no automatic restart. */
  private stopExpected = false;
  private readonly changed = new vscode.EventEmitter<DaemonClientSnapshot>();
  readonly onDidChange = this.changed.event;
  private readonly listeners = new Map<string, Set<NotificationListener>>();
  /** The key last handed over, only so that protocol traces can blank it out. */
  private apiKey: string | null = null;
  /** Connector credentials handed over, only so that protocol traces can blank them out. */
  private readonly connectorSecrets = new Set<string>();

  constructor(
    private readonly folder: string,
    private readonly daemonModule: string,
    private readonly output: vscode.LogOutputChannel,
    private readonly sources: DaemonSecretSources,
  ) {}

  get state(): DaemonClientSnapshot {
    return this.snapshot;
  }

  /** Starts the daemon unless it is running. Resolves when it is ready (or failed), also when already starting. */
  start(): Promise<void> {
    // A command run while the daemon is starting waits for it rather than finding it not running.
    if (this.restarting) return this.restarting;
    if (this.starting) return this.starting;
    if (this.client) return Promise.resolve();
    this.starting = this.startNow().finally(() => (this.starting = null));
    return this.starting;
  }

  private async startNow(): Promise<void> {
    this.clearRestartTimer();
    this.stopExpected = false;
    this.update({ connection: 'starting', nextRestartAt: null });
    const client = this.createLanguageClient();
    this.client = client;
    let startupError: unknown = null;
    try {
      await client.start();
      const [status, index] = await Promise.all([
        this.request(StatusRequest),
        this.request(IndexStatusRequest),
        this.sendApiKey(),
        this.sendConnectorSecrets(),
      ]);
      this.update({ connection: 'running', daemon: status, index, lastError: null });
    } catch (error) {
      startupError = error;
    }
    if (startupError !== null) {
      this.client = null;
      await disposeQuietly(client);
      const message = describeError(startupError);
      this.output.error(`Keel daemon failed to start: ${message}`);
      this.update({ connection: 'failed', daemon: null, index: null, lastError: message });
      this.offerRestart(`Keel daemon failed to start: ${message}`);
    }
  }

  /** Stops the daemon on purpose; it is not restarted. */
  async stop(): Promise<void> {
    this.clearRestartTimer();
    this.stopExpected = true;
    const client = this.client;
    this.client = null;
    if (client) await disposeQuietly(client);
    this.update({ connection: 'stopped', daemon: null, index: null, nextRestartAt: null });
  }

  /** The operator's restart: forgets past crashes and starts afresh. */
  restart(): Promise<void> {
    this.restarting ??= (async () => {
      await this.stop();
      this.restartPolicy.reset();
      this.update({ restarts: 0, lastError: null });
      this.starting = this.startNow().finally(() => (this.starting = null));
      await this.starting;
    })().finally(() => (this.restarting = null));
    return this.restarting;
  }

  async request<T extends RequestDefinition>(definition: T, params?: ParamsOf<T>): Promise<ResultOf<T>> {
    const client = this.client;
    if (!client || !client.isRunning()) throw new DaemonNotRunningError(this.snapshot.connection);
    try {
      const raw: unknown = await client.sendRequest(definition.method, params ?? {});
      return definition.result.parse(raw) as ResultOf<T>;
    } catch (error) {
      if (error instanceof ResponseError) throw new KeelRpcError(error.code, error.message, error.data);
      throw error;
    }
  }

  /**
   * Calls `listener` with the validated params of every `definition` notification, from this
   * daemon and from every daemon started after a restart.
   */
  onNotification<T extends NotificationDefinition>(
    definition: T,
    listener: (params: z.output<T['params']>) => void,
  ): vscode.Disposable {
    const listeners = this.listeners.get(definition.method) ?? new Set<NotificationListener>();
    this.listeners.set(definition.method, listeners);
    const entry: NotificationListener = (params) => listener(params as z.output<T['params']>);
    listeners.add(entry);
    return new vscode.Disposable(() => listeners.delete(entry));
  }

  /**
   * Hands the key stored for the models endpoint's origin to the running daemon, which keeps it in
   * memory and sends it to that origin only. Nothing is handed over in Restricted Mode, nor when
   * keel.yaml names no endpoint. A failure is logged without the key and does not stop the daemon:
   * runs that need no model still work.
   */
  async sendApiKey(): Promise<void> {
    if (!this.client || !vscode.workspace.isTrusted) return;
    try {
      const origin = modelsOrigin(await this.request(TrustStateRequest));
      if (!origin) return;
      const apiKey = (await this.sources.apiKeys(origin)) ?? null;
      if (!apiKey) return;
      this.apiKey = apiKey;
      await this.request(SetApiKeyRequest, { apiKey, origin });
      this.output.info(`Handed the model API key for ${origin} from the editor to the Keel daemon.`);
    } catch (error) {
      this.output.warn(`Could not hand the model API key to the Keel daemon: ${describeError(error)}`);
    }
  }

  /**
   * Hands every stored connector credential to the running daemon (memory only). Nothing in
   * Restricted Mode; a failure is logged without the values and does not stop the daemon.
   */
  async sendConnectorSecrets(): Promise<void> {
    if (!this.client || !vscode.workspace.isTrusted) return;
    try {
      const sent = await handOverConnectorSecrets(
        async () => (await this.request(ConnectorsListRequest)).connectors,
        this.sources.connectorSecrets,
        (connector, credential, value) => this.sendConnectorSecret(connector, credential, value),
      );
      if (sent > 0)
        this.output.info(`Handed ${sent} connector credential(s) from the editor to the Keel daemon.`);
    } catch (error) {
      this.output.warn(`Could not hand connector credentials to the Keel daemon: ${describeError(error)}`);
    }
  }

  /** One connector credential to the daemon; known to the trace's redaction before it is sent. */
  async sendConnectorSecret(connector: string, credential: string, value: string): Promise<void> {
    this.connectorSecrets.add(value);
    await this.request(SetConnectorSecretRequest, { connector, credential, value });
  }

  /** Trust as a grant or revoke answered it, before the daemon's own notification arrives. */
  noteTrust(trust: TrustState): void {
    if (this.snapshot.daemon) this.update({ daemon: { ...this.snapshot.daemon, trust } });
  }

  dispose(): void {
    this.clearRestartTimer();
    void this.stop();
    this.changed.dispose();
  }

  private createLanguageClient(): LanguageClient {
    const args = ['--workspace', this.folder];
    const env = daemonEnvironment(process.env);
    // VS Code's Restricted Mode: the daemon indexes and searches, and nothing else, even where the
    // operator granted Keel's own trust before (from the CLI). Granting trust restarts it without.
    if (!vscode.workspace.isTrusted) env[EDITOR_RESTRICTED_ENV] = '1';
    const serverOptions: ServerOptions = {
      run: { module: this.daemonModule, transport: TransportKind.ipc, args, options: { env } },
      debug: {
        module: this.daemonModule,
        transport: TransportKind.ipc,
        args,
        options: { env, execArgv: ['--nolazy', '--inspect=6009'] },
      },
    };
    const clientOptions: LanguageClientOptions = {
      // Runbooks, checked and completed as they are typed. The pattern covers the default folder;
      // the daemon decides what is a runbook (keel.yaml may name another folder).
      documentSelector: [{ scheme: 'file', language: 'yaml', pattern: RUNBOOK_DOCUMENTS }],
      outputChannel: this.output,
      // "keel.trace.server": "verbose" logs every message's params, the API key's too: blank it out.
      traceOutputChannel: redactingChannel(this.output, () => [
        ...(this.apiKey ? [this.apiKey] : []),
        ...this.connectorSecrets,
      ]),
      workspaceFolder: vscode.workspace.getWorkspaceFolder(vscode.Uri.file(this.folder)),
      initializationFailedHandler: () => false,
      errorHandler: {
        error: (_error, _message, count) => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        }),
        closed: () => this.onConnectionClosed(),
      },
    };
    const client = new LanguageClient('keel', 'Keel', serverOptions, clientOptions);
    client.onNotification(StatusChangedNotification.method, (params: unknown) => {
      const status = StatusChangedNotification.params.safeParse(params);
      if (!status.success) return;
      if (status.data.state === 'stopping') this.stopExpected = true;
      this.update({ daemon: status.data });
    });
    client.onNotification(IndexChangedNotification.method, (params: unknown) => {
      const index = IndexChangedNotification.params.safeParse(params);
      if (index.success) this.update({ index: index.data });
    });
    // The status carries trust too: keep it current between status notifications.
    client.onNotification(TrustChangedNotification.method, (params: unknown) => {
      const trust = TrustChangedNotification.params.safeParse(params);
      if (trust.success) this.noteTrust(trust.data);
    });
    for (const message of allMessages) {
      if (message.kind !== 'notification' || message.direction !== 'serverToClient') continue;
      if (OWN_NOTIFICATIONS.has(message.method)) continue;
      client.onNotification(message.method, (params: unknown) => this.dispatch(message, params));
    }
    return client;
  }

  private dispatch(definition: NotificationDefinition, raw: unknown): void {
    const params = definition.params.safeParse(raw);
    if (!params.success) {
      this.output.warn(`Ignored a malformed ${definition.method} notification: ${params.error.message}`);
      return;
    }
    for (const listener of this.listeners.get(definition.method) ?? []) {
      try {
        listener(params.data);
      } catch (error) {
        this.output.error(`A ${definition.method} listener failed: ${describeError(error)}`);
      }
    }
  }

  /** The connection closed without the client asking: the daemon stopped or crashed. */
  private onConnectionClosed(): { action: CloseAction; handled: boolean } {
    const client = this.client;
    this.client = null;
    // The language client cleans up after this handler returns; release it once it has.
    if (client) setTimeout(() => void disposeQuietly(client), 0);
    if (this.stopExpected) {
      this.output.info('Keel daemon stopped.');
      this.update({ connection: 'stopped', daemon: null, index: null });
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    const decision = this.restartPolicy.onCrash(now);
    if (decision.action === 'giveUp') {
      this.output.error(decision.message);
      this.update({
        connection: 'failed',
        daemon: null,
        index: null,
        nextRestartAt: null,
        lastError: decision.message,
      });
      this.offerRestart(decision.message);
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const { delayMs, crashes } = decision;
    const message = `The Keel daemon stopped unexpectedly; restarting in ${delayMs / 1000}s (restart ${crashes} of ${MAX_CRASHES}).`;
    this.output.warn(message);
    this.update({
      connection: 'restarting',
      daemon: null,
      index: null,
      restarts: crashes,
      nextRestartAt: new Date(now + delayMs).toISOString(),
      lastError: message,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.start();
    }, delayMs);
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private offerRestart(message: string): void {
    void vscode.window.showErrorMessage(message, 'Restart', 'Show Logs').then((choice) => {
      if (choice === 'Restart') void this.restart();
      if (choice === 'Show Logs') this.output.show();
    });
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private update(change: Partial<DaemonClientSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...change };
    this.changed.fire(this.snapshot);
  }
}

function describeError(error: unknown): string {
  if (error instanceof ResponseError || error instanceof Error) return error.message;
  return String(error);
}

async function disposeQuietly(client: LanguageClient): Promise<void> {
  try {
    await client.dispose(2_000);
  } catch {
    // A client whose server already died cannot stop cleanly; there is nothing left to release.
  }
}
