/**
 * The daemon: one per workspace folder, owner of all its state. It holds the workspace lock, keeps
 * the workspace config current, serves the typed router on whichever transports it is given and
 * pushes status changes to every connected client.
 */
import { watch, rmSync, type FSWatcher } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ApprovalsChangedNotification,
  CONFIG_FILE,
  ConnectorsChangedNotification,
  ControlChangedNotification,
  EvalsChangedNotification,
  IndexChangedNotification,
  RunbooksChangedNotification,
  RunChangedNotification,
  StatusChangedNotification,
  TrustChangedNotification,
  type DaemonState,
  type DaemonStatus,
  type NotificationDefinition,
  type Problem,
  type ParamsOf,
} from '@keel/schemas';
import { keelDir } from './files/workspacePaths';
import type { Logger } from './log';
import { registerHandlers } from './handlers/index';
import type { HandoffNode } from './conductor/handoffGraph';
import { ConductorHost } from './conductor/conductorHost';
import { RunbookCatalog } from './conductor/runbookCatalog';
import { WorkspaceTrust } from './trust/workspaceTrust';
import type { Clock } from './conductor/triggerSchedule';
import { MemoryHost } from './memory/memoryHost';
import { runJournalPort } from './conductor/runJournalPort';
import { Router } from './rpc/router';
import { SocketServer } from './rpc/socketServer';
import { socketPathFor, tokenPathFor } from './runtime/paths';
import { checkStateDir, quarantined } from './runtime/stateKey';
import { writeNewToken } from './runtime/token';
import { WorkspaceLock } from './runtime/workspaceLock';
import { loadConfig, type LoadedConfig } from './workspace/config';
import { ConnectorSecrets, credentialResolver } from './connectors/credentials';
import type { RunbookFile } from './connectors/actionUses';
import { ConnectorStatus } from './connectors/connectorStatus';
import { ProbeRecords } from './connectors/probeRecords';
import { ProbeSchedule } from './connectors/probeSchedule';
import { BUILT_IN_CONNECTORS, ConnectorRegistry, type ConnectorInstance } from './connectors/registry';
import type { Connector } from './connectors/sdk';
import { WorkspaceConfig } from '@keel/schemas';
import { KEEL_VERSION } from './version';

export interface DaemonOptions {
  /** Absolute, real path of the workspace folder. */
  workspace: string;
  /** `daemon`: long-lived and serving the socket; `in-process`: inside one CLI command. */
  mode: 'daemon' | 'in-process';
  log: Logger;
  /** The trigger schedules' clock; tests pass one to play a daemon that was down. */
  clock?: Clock;
  /** Connectors next to the built-ins (tests: a connector that shows what reaches it). */
  connectors?: readonly Connector[];
}

/** Somewhere notifications go: the LSP connection, the socket's clients, an in-process client. */
export type NotificationSink = (method: string, params: unknown) => void;

const CONFIG_RELOAD_DEBOUNCE_MS = 50;
/** How long completion waits for an MCP server to list its tools before answering without them. */
const EDITOR_LISTING_WAIT_MS = 3_000;

export class Daemon {
  readonly router = new Router();
  readonly startedAt = new Date();
  private state: DaemonState = 'starting';
  private config: LoadedConfig = { state: 'missing', config: null, problems: [] };
  /** The last valid keel.yaml: an invalid edit keeps it in force. */
  private lastValid: WorkspaceConfig | null = null;
  /** Config and trust changes are applied one at a time, in order. */
  private applying: Promise<void> = Promise.resolve();
  /** keel.yaml is read one time after another, so the newest read is the one that stays. */
  private reloading: Promise<void> = Promise.resolve();
  private readonly sinks = new Set<NotificationSink>();
  private socket: SocketServer | null = null;
  private configWatcher: FSWatcher | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly exitHook = (): void => this.releaseSync();
  private resolveStopped!: () => void;
  /** Settles once the daemon has stopped and released the workspace. */
  readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  /** The memory plane: index and search of the workspace's notes. */
  readonly memory: MemoryHost;
  /** Runbooks and their runs. */
  readonly conductor: ConductorHost;
  /** The connectors Keel has: the closed list of built-ins. */
  readonly connectorRegistry: ConnectorRegistry;
  /** Credentials the editor handed over from its secret storage, in memory only. */
  readonly connectorSecrets = new ConnectorSecrets();
  /** Where each connector keel.yaml names stands (trust, credentials, probes, events). */
  readonly connectorStatus: ConnectorStatus;
  /** Drift probes on each connector's `probeMinutes` (the long-lived daemon only). */
  private readonly probeSchedule: ProbeSchedule;

  private constructor(
    private readonly options: DaemonOptions,
    private readonly lock: WorkspaceLock,
    /** The operator's consent to what this workspace wants (endpoints, triggers). */
    readonly trust: WorkspaceTrust,
  ) {
    // MCP servers start only with the operator's consent to their exact command line (trust).
    this.connectorRegistry = new ConnectorRegistry([...BUILT_IN_CONNECTORS, ...(options.connectors ?? [])], {
      mcp: { log: options.log, trust },
    });
    this.connectorSecrets.onSecret((value) => options.log.redact(value));
    this.connectorStatus = new ConnectorStatus({
      workspace: options.workspace,
      instances: () => this.connectorInstances(),
      trust,
      secrets: this.connectorSecrets,
      env: process.env,
      redact: (value) => options.log.redact(value),
      onChanged: (connectors) => this.notify(ConnectorsChangedNotification, { connectors }),
      // A connector's breaker is governance's too: the dashboard, the editor's notices and alerts.
      onBreakersChanged: () => this.conductor?.controlChanged(),
      runbooks: () => this.runbookFiles(),
    });
    this.probeSchedule = new ProbeSchedule(this.connectorStatus, {
      onError: (connector, error) =>
        options.log.warn('a scheduled connector probe failed to run', { connector, error }),
    });
    this.memory = new MemoryHost({
      root: options.workspace,
      log: options.log,
      mode: options.mode,
      onStatus: (status) => this.notify(IndexChangedNotification, status),
    });
    this.conductor = new ConductorHost({
      root: options.workspace,
      log: options.log,
      mode: options.mode,
      memory: this.memory,
      trust,
      onRunChanged: (summary) => {
        this.notify(RunChangedNotification, summary);
        // Indexed for `keel search --kind run` in the background, off the run's own path.
        if (summary.endedAt) this.memory.runEnded(summary.id);
      },
      onApprovalChanged: (proposal, pending) =>
        this.notify(ApprovalsChangedNotification, { proposal, pending }),
      onControlChanged: (state) => this.notify(ControlChangedNotification, state),
      onEventsPolled: () => this.connectorStatus.refresh(),
      onEvalsChanged: (change) => this.notify(EvalsChangedNotification, change),
      connectors: {
        registry: this.connectorRegistry,
        secrets: this.connectorSecrets,
        probes: {
          refusal: (instance) => this.connectorStatus.refusal(instance),
          breakers: () => this.connectorStatus.breakers(),
        },
      },
      onRunbooksChanged: (runbooks) => {
        this.notify(RunbooksChangedNotification, { runbooks });
        this.applying = this.applying.then(() => this.refreshWants()).catch(() => undefined);
      },
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.memory.useRunJournals(runJournalPort(options.workspace, () => this.conductor.get()));
    // The Connectors section shows each event source's last event and last polling error.
    this.connectorStatus.useEvents({
      lastEvent: (name) => {
        const polled = this.conductor.eventStatus().find((status) => status.connector === name);
        if (!polled) return null;
        return { at: polled.lastEventAt, ...(polled.lastError ? { error: polled.lastError } : {}) };
      },
    });
  }

  /**
   * Takes the workspace lock (throwing `DaemonAlreadyRunningError` if another daemon holds it),
   * loads the config and starts serving.
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    // Before the lock or any state is written: a `.keel/` that is a link elsewhere is refused.
    await keelDir(options.workspace);
    // Links planted inside it are moved to .keel/quarantine/, never followed.
    await checkStateDir(options.workspace, (message) => options.log.warn(message));
    const socketPath = options.mode === 'daemon' ? socketPathFor(options.workspace) : null;
    const lock = await WorkspaceLock.acquire(options.workspace, {
      pid: process.pid,
      mode: options.mode,
      socketPath,
      tokenPath: socketPath ? tokenPathFor(socketPath) : null,
      serving: false,
      startedAt: new Date().toISOString(),
      version: KEEL_VERSION,
    });
    let daemon: Daemon | null = null;
    const trust = await WorkspaceTrust.load(options.workspace, options.log, (state) => {
      daemon?.notify(TrustChangedNotification, state);
      daemon?.publishStatus();
      daemon?.connectorStatus.refresh();
    }).catch(async (error: unknown) => {
      await lock.release();
      throw error;
    });
    daemon = new Daemon(options, lock, trust);
    process.once('exit', daemon.exitHook);
    try {
      await daemon.open();
    } catch (error) {
      await daemon.stop('failed to start');
      throw error;
    }
    return daemon;
  }

  get workspace(): string {
    return this.options.workspace;
  }

  get log(): Logger {
    return this.options.log;
  }

  /** The connectors keel.yaml (the last valid one) declares, and the built-ins, for the runbook editor. */
  connectorInstances(): ConnectorInstance[] {
    const config = this.config.config ?? this.lastValid ?? WorkspaceConfig.parse({ version: 1 });
    return this.connectorRegistry.instances(config).instances;
  }

  /**
   * The connectors for the runbook editor, with the actions of those that discover them (an MCP
   * server's tools) listed: only for servers the operator trusted, and waiting at most
   * EDITOR_LISTING_WAIT_MS (a server still starting is offered once it answers).
   */
  async editorConnectors(): Promise<ConnectorInstance[]> {
    const instances = this.connectorInstances();
    await Promise.all(
      instances.map(async (instance) => {
        const { connector } = instance;
        if (!connector.prepare || connector.actionsKnown !== false) return;
        // Untrusted: no tools offered, and no process started to find them.
        if (connector.endpoint && !this.trust.allows(connector.endpoint)) return;
        const listing = connector
          .prepare({
            workspace: this.options.workspace,
            config: instance.config,
            signal: new AbortController().signal,
            credential: credentialResolver(instance, this.connectorSecrets, process.env, (value) =>
              this.log.redact(value),
            ),
          })
          .catch((error: unknown) => {
            this.log.debug('the editor cannot list the actions of a connector', {
              connector: instance.name,
              error,
            });
          });
        await Promise.race([listing, delay(EDITOR_LISTING_WAIT_MS, undefined, { ref: false })]);
      }),
    );
    return instances;
  }

  /** The runbooks that parse, with their files: what a drift probe checks a connector against. */
  private async runbookFiles(): Promise<RunbookFile[]> {
    const loaded = await new RunbookCatalog(this.options.workspace, this.runbooksDir).list().catch(() => []);
    return loaded.flatMap((r) => (r.runbook ? [{ path: r.info.path, runbook: r.runbook }] : []));
  }

  /** The runbooks folder, relative to the workspace (keel.yaml `runbooks.dir`). */
  get runbooksDir(): string {
    return this.config.config?.runbooks.dir ?? 'runbooks';
  }

  status(): DaemonStatus {
    return {
      state: this.state,
      version: KEEL_VERSION,
      pid: process.pid,
      workspace: this.options.workspace,
      config: this.config.state,
      problems: this.config.problems,
      startedAt: this.startedAt.toISOString(),
      uptimeMs: Date.now() - this.startedAt.getTime(),
      mode: this.options.mode,
      socketPath: this.lock.info.socketPath,
      trust: this.config.state === 'missing' ? null : this.trust.state(),
    };
  }

  /** Adds a destination for notifications; returns its removal. */
  addNotificationSink(sink: NotificationSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  notify<T extends NotificationDefinition>(definition: T, params: ParamsOf<T>): void {
    const checked = definition.params.parse(params);
    this.socket?.notify(definition.method, checked);
    for (const sink of this.sinks) sink(definition.method, checked);
  }

  /** Re-reads `keel.yaml` and tells clients if anything they can see changed. */
  reloadConfig(): Promise<void> {
    // One read at a time, in order: a slow read of the file as it was (the watcher's) must not
    // finish after a later one and put the older keel.yaml back.
    const next = this.reloading.then(() => this.reloadNow());
    this.reloading = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(): Promise<void> {
    if (this.state === 'stopping') return;
    const before = JSON.stringify([this.config.state, this.config.problems]);
    this.config = await loadConfig(this.options.workspace, this.connectorRegistry);
    if (JSON.stringify([this.config.state, this.config.problems]) !== before) {
      this.log.info('workspace config changed', { config: this.config.state });
      this.warnConfig();
      this.publishStatus();
    }
    await this.applyConfig();
  }

  /**
   * Applies keel.yaml and the operator's trust as they are now: what the workspace wants is read
   * again, memory gets remote embeddings only if consented, and a newly trusted workspace finishes
   * interrupted decisions and resumes its runs. One application at a time, in order.
   */
  applyConfig(): Promise<void> {
    const next = this.applying.then(async () => {
      const { state, config } = this.config;
      if (config) this.lastValid = config;
      await this.refreshWants();
      // Servers started under a consent that no longer holds (revoked, or keel.yaml changed what
      // it asks for) stop now; all of them when keel.yaml is gone or broken.
      this.connectorRegistry.closeUntrustedServers(state !== 'valid');
      // Trust lost to this change: runs halt before the conductor takes the new settings, so no
      // step acts under a policy the operator has not consented to.
      if (state !== 'missing' && !this.trust.trusted) await this.conductor.trustChanged();
      const current = config ?? this.lastValid;
      await this.memory.configure(state, current && this.trust.restrict(current));
      await this.conductor.configure(state, config);
      if (state !== 'missing') await this.conductor.trustChanged();
      this.connectorStatus.refresh();
      this.probeSchedule.wake();
    });
    this.applying = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every config and trust change asked for so far has been applied. */
  settled(): Promise<void> {
    return this.applying;
  }

  /** Reads again what the workspace wants of the operator: its endpoints and its triggers. */
  private async refreshWants(): Promise<void> {
    const config = this.config.config ?? this.lastValid;
    if (this.config.state === 'missing' || !config) {
      this.trust.update(null, []);
      return;
    }
    const runbooks = await new RunbookCatalog(this.options.workspace, config.runbooks.dir)
      .list()
      .catch(() => []);
    this.trust.update(
      config,
      runbooks.flatMap((r) => (r.runbook ? [r.runbook] : [])),
      this.connectorRegistry.trustEndpoints(config),
    );
  }

  /** Every problem the daemon knows of in workspace files: keel.yaml's, the notes' and the runbooks'. */
  /** The hand-off problems of a runbook being edited (see RunbookCatalog.handoffProblems). */
  handoffProblems(node: HandoffNode): Promise<Problem[]> {
    return this.conductor.handoffProblems(node);
  }

  async problems(): Promise<Problem[]> {
    return [
      ...this.config.problems,
      ...(await this.memory.status()).problems,
      ...(await this.conductor.problems()),
      ...(await quarantined(this.options.workspace)).map(({ path, message }): Problem => ({
        path,
        line: 1,
        column: 1,
        severity: 'warning',
        message,
      })),
    ];
  }

  /** Stops serving, releases the socket, token and lock. Idempotent; resolves when done. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.close(reason);
    return this.stopping;
  }

  /** keel.yaml's warnings (deprecated settings) in the log, where a CLI-only operator sees them. */
  private warnConfig(): void {
    for (const problem of this.config.problems.filter((p) => p.severity === 'warning')) {
      this.log.warn(`${problem.path}:${problem.line}: ${problem.message}`);
    }
  }

  private async open(): Promise<void> {
    registerHandlers(this.router, this);
    // Before any run can call a connector: a breaker a failed probe opened before a restart holds.
    this.connectorStatus.useRecords(
      await ProbeRecords.load(this.options.workspace, (message) => this.log.warn(message)),
    );
    this.config = await loadConfig(this.options.workspace, this.connectorRegistry);
    this.warnConfig();
    await this.applyConfig();
    this.watchConfig();
    const { socketPath, tokenPath } = this.lock.info;
    if (socketPath && tokenPath) {
      const token = await writeNewToken(tokenPath);
      this.log.redact(token);
      this.socket = await SocketServer.listen({
        socketPath,
        token,
        router: this.router,
        log: this.log,
        describe: () => ({ daemonVersion: KEEL_VERSION, workspace: this.options.workspace }),
      });
      // Only now does the lock say a socket answers: clients never wait on one that is not there yet.
      await this.lock.markServing();
    }
    this.state = 'ready';
    if (this.options.mode === 'daemon') this.probeSchedule.start();
    this.log.info('daemon ready', {
      workspace: this.options.workspace,
      pid: process.pid,
      mode: this.options.mode,
      socket: socketPath ?? 'none',
      config: this.config.state,
    });
    this.publishStatus();
  }

  private async close(reason: string): Promise<void> {
    this.log.info('daemon stopping', { reason });
    this.state = 'stopping';
    this.publishStatus();
    this.configWatcher?.close();
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    // A read of keel.yaml under way finishes applying before the parts it configures stop.
    await this.reloading;
    await this.applying.catch(() => undefined);
    await this.probeSchedule.stop();
    await this.connectorStatus.idle();
    await this.socket?.close();
    await this.conductor
      .stop()
      .catch((error: unknown) => this.log.warn('stopping the conductor failed', { error }));
    await this.memory
      .close()
      .catch((error: unknown) => this.log.warn('closing the memory index failed', { error }));
    // After the conductor: no run calls a server any more. Each local server's process ends here.
    await this.connectorRegistry
      .close()
      .catch((error: unknown) => this.log.warn('closing the MCP servers failed', { error }));
    if (this.lock.info.tokenPath) await rm(this.lock.info.tokenPath, { force: true });
    await this.lock.release();
    process.off('exit', this.exitHook);
    this.log.info('daemon stopped');
    this.resolveStopped();
  }

  publishStatus(): void {
    this.notify(StatusChangedNotification, this.status());
  }

  /** keel.yaml can be created, edited or deleted by anyone at any time: watch its folder. */
  private watchConfig(): void {
    try {
      this.configWatcher = watch(this.options.workspace, (_event, filename) => {
        if (filename === '.keel') {
          void this.lock.restoreIfMissing().catch(() => undefined);
          void this.memory.checkStores().catch(() => undefined);
          return;
        }
        if (filename !== null && filename !== CONFIG_FILE) {
          this.conductor.runbooksFolderChanged();
          return;
        }
        if (this.reloadTimer) clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reloadConfig().catch((error: unknown) =>
            this.log.error('reading keel.yaml failed', { error }),
          );
        }, CONFIG_RELOAD_DEBOUNCE_MS);
      });
      this.configWatcher.on('error', (error) => this.log.warn('config watcher failed', { error }));
    } catch (error) {
      this.log.warn('cannot watch the workspace folder for keel.yaml changes', { error });
    }
  }

  /** Last resort on process exit (crash paths included): nothing asynchronous can run here. */
  private releaseSync(): void {
    const { socketPath, tokenPath } = this.lock.info;
    for (const path of [socketPath, tokenPath]) {
      if (path) rmSync(path, { force: true });
    }
    this.lock.releaseSync();
  }
}
