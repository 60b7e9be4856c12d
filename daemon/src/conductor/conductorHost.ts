/**
 * Runs the conductor while the workspace has a keel.yaml, hands it config changes, and watches the
 * runbooks folder so editors see runbooks (and their problems) as files change.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import {
  WorkspaceConfig,
  type ControlState,
  type Problem,
  type Proposal,
  type RunbookInfo,
  type RunSummary,
} from '@keel/schemas';
import { AlertService } from '../alerts/alertService';
import { NotInitialized, Unavailable } from '../errors';
import type { Logger } from '../log';
import type { MemoryHost } from '../memory/memoryHost';
import type { WorkspaceTrust } from '../trust/workspaceTrust';
import type { WorkspaceConnectors } from '../connectors/workspaceConnectors';
import { triggerId, webhooksEndpoint } from '../trust/wants';
import { WebhookListener } from '../connectors/webhooks/webhookListener';
import { Conductor, type ConductorOptions } from './conductor';
import type { HandoffNode } from './handoffGraph';
import { RunbookCatalog } from './runbookCatalog';
import { EventPollers, type EventSourceStatus } from './triggerEvents';
import { TriggerScheduler } from './triggers';
import type { EvalRun } from './evals/evaluations';
import { systemClock, type Clock } from './triggerSchedule';
import { ExpiryJob } from '../memory/retention/expiryJob';

export interface ConductorHostOptions {
  root: string;
  log: Logger;
  mode: 'daemon' | 'in-process';
  memory: MemoryHost;
  /** The operator's consent: runs, resumes, triggers and stored decisions wait for it. */
  trust: WorkspaceTrust;
  onRunChanged: (summary: RunSummary) => void;
  onApprovalChanged: (proposal: Proposal, pending: number) => void;
  onControlChanged: (state: ControlState) => void;
  /** A connector was polled for events (its status changed, perhaps). */
  onEventsPolled?: () => void;
  /** An eval finished, with the drift it found (the dashboard shows it). */
  onEvalsChanged?: (change: { runbook: string; tier: string; drift: EvalRun['drift'] }) => void;
  onRunbooksChanged: (runbooks: RunbookInfo[]) => void;
  /** The schedules' clock (tests play a daemon that was down); the system's by default. */
  clock?: Clock;
  /** The connectors Keel has, and the credentials the editor handed over. */
  connectors?: ConductorOptions['connectors'];
}

const DEFAULT_CONFIG = WorkspaceConfig.parse({ version: 1 });
const WATCH_DEBOUNCE_MS = 100;

export class ConductorHost {
  private conductor: Promise<Conductor> | null = null;
  /** The conductor once open, for what must be read without waiting (the event pollers). */
  private current: Conductor | null = null;
  private configuring: Promise<void> = Promise.resolve();
  private apiKey: { key: string; origin: string } | null = null;
  private config: WorkspaceConfig | null = null;
  private watcher: FSWatcher | null = null;
  private watchedDir: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Schedules and file-change triggers: only in the long-lived daemon, never in one CLI command. */
  private triggerScheduler: TriggerScheduler | null = null;
  /** Alerts outside the editor (keel.yaml `alerts:`): only in the long-lived daemon. */
  private alerts: AlertService | null = null;
  /** Runbooks whose scheduled eval runs now. */
  private readonly evalsUnderWay = new Set<string>();
  /** The webhook listener (keel.yaml `webhooks:`) and the settings it listens with. */
  private webhooks: { listener: WebhookListener; key: string } | null = null;
  /** Set by stop until a conductor opens again: a webhook delivery arriving meanwhile starts nothing. */
  private stopping = false;
  private webhooksChanging: Promise<void> = Promise.resolve();
  /** The daily expiry of working memory: only in the long-lived daemon. */
  private expiry: ExpiryJob | null = null;

  constructor(private readonly options: ConductorHostOptions) {}

  /**
   * Applies keel.yaml's state. Calls run one after another: a reload landing while the previous
   * one still stops the conductor must not be applied to the conductor that is going away.
   */
  configure(state: 'missing' | 'valid' | 'invalid', config: WorkspaceConfig | null): Promise<void> {
    const next = this.configuring.then(() => this.configureNow(state, config));
    this.configuring = next.catch(() => undefined);
    return next;
  }

  /**
   * The key the editor handed over, for the endpoint origin it was stored for: kept here, so a
   * conductor opened later gets it too.
   */
  setApiKey(key: string, origin: string): void {
    this.apiKey = { key, origin };
    this.options.log.redact(key);
    void this.conductor?.then((c) => c.setApiKey(key, origin)).catch(() => undefined);
  }

  /** Trust was granted or revoked: resume what waited, re-arm the triggers the operator allowed. */
  async trustChanged(): Promise<void> {
    const conductor = this.conductor ? await this.conductor.catch(() => null) : null;
    await conductor?.trustChanged();
    await this.triggerScheduler?.refresh();
    this.alerts?.trustChanged();
    void this.expiry?.runDue();
    await this.refreshWebhooks();
  }

  /**
   * Starts, restarts or stops the webhook listener as keel.yaml and trust have it now: it listens
   * only in the daemon, when keel.yaml has `webhooks:`, the operator consented to that exact
   * address, and some trusted connector instance receives webhooks. Calls run one after another.
   */
  refreshWebhooks(): Promise<void> {
    const next = this.webhooksChanging.then(() => this.refreshWebhooksNow());
    this.webhooksChanging = next.catch(() => undefined);
    return next;
  }

  private async refreshWebhooksNow(): Promise<void> {
    const wanted = this.options.mode === 'daemon' && this.config ? this.config.webhooks : undefined;
    const trust = this.options.trust;
    const receiving = (this.current?.connectors.list() ?? []).some(
      (i) => i.connector.webhook && i.endpoints.every((e) => trust.allows(e)),
    );
    const key = wanted && trust.allows(webhooksEndpoint(wanted)) && receiving ? JSON.stringify(wanted) : null;
    if (this.webhooks?.key === key) return;
    await this.webhooks?.listener.close();
    this.webhooks = null;
    if (!wanted || key === null) return;
    try {
      const listener = await WebhookListener.start({
        config: wanted,
        log: this.options.log,
        receiver: (name) => {
          const instance = this.current?.connectors
            .list()
            .find((i) => i.name === name && i.connector.webhook);
          return instance && instance.endpoints.every((e) => trust.allows(e)) ? instance : null;
        },
        context: (instance, signal) => {
          const connectors = this.current?.connectors;
          if (!connectors) throw new Error('the conductor is not running');
          return connectors.probeContext(instance, signal);
        },
        deliver: async (instance, events) => {
          // Once stopping, nothing may build triggers again: the sender is told to retry later.
          if (this.stopping) throw new Error('the daemon is stopping');
          this.triggers();
          if (!this.pollers) throw new Error('the daemon is stopping');
          return this.pollers.deliver(instance, events);
        },
      });
      this.webhooks = { listener, key };
    } catch (error) {
      this.options.log.error((error as Error).message);
    }
  }

  private async configureNow(
    state: 'missing' | 'valid' | 'invalid',
    config: WorkspaceConfig | null,
  ): Promise<void> {
    if (state === 'missing') {
      await this.stop();
      this.config = null;
      return;
    }
    this.config = config ?? this.config ?? DEFAULT_CONFIG;
    if (this.conductor) (await this.conductor.catch(() => null))?.configure(this.config);
    else if (this.options.mode === 'daemon') this.conductor = this.open(this.config);
    // keel.yaml back after it went missing: one command's conductor opens on first use again.
    else this.stopping = false;
    this.alerts?.configure(this.config.alerts);
    if (this.options.mode === 'daemon') {
      this.watchRunbooks(this.config.runbooks.dir);
      void this.triggers()?.refresh();
      void this.refreshWebhooks();
    }
  }

  /** The trigger scheduler, created on first use in daemon mode; null in a one-command CLI. */
  triggers(): TriggerScheduler | null {
    if (this.options.mode !== 'daemon') return null;
    this.triggerScheduler ??= new TriggerScheduler({
      workspace: this.options.root,
      log: this.options.log,
      runbooks: async () => (await this.get()).runbooks.list(),
      start: async (runbook, inputs) => {
        const run = await (await this.get()).start(runbook, inputs);
        this.alerts?.triggeredRun(run.id);
        return run;
      },
      allowed: (runbook, trigger) => this.options.trust.triggerAllowed(triggerId(runbook.name, trigger)),
      triggerId: (runbook, trigger) => triggerId(runbook.name, trigger),
      ended: async (runId) => {
        const summary = await (await this.get()).summary(runId).catch(() => null);
        return summary === null || summary.endedAt !== null;
      },
      events: this.eventPollers(),
      evaluate: async (runbook, options) => {
        // A slot whose eval of the slot before still runs starts none (as a run's schedule does).
        if (this.evalsUnderWay.has(runbook)) {
          this.options.log.warn('a schedule slot started no eval: the one before is still under way', {
            runbook,
          });
          return;
        }
        this.evalsUnderWay.add(runbook);
        try {
          await this.evaluate({ runbook, ...options, baseline: false });
        } finally {
          this.evalsUnderWay.delete(runbook);
        }
      },
      ...(this.options.clock ? { clock: this.options.clock } : {}),
    });
    return this.triggerScheduler;
  }

  /** How each connector's event polling goes (for the sidebar); empty outside the daemon. */
  /** A connector's breaker opened or closed: governance's state goes out again (editor, alerts). */
  controlChanged(): void {
    this.current?.publishControl();
  }

  eventStatus(): EventSourceStatus[] {
    return this.pollers?.status() ?? [];
  }

  private pollers: EventPollers | null = null;

  /** The connectors' event pollers, read through the conductor as keel.yaml has it now. */
  private eventPollers(): EventPollers {
    const trust = this.options.trust;
    const connectors = (): WorkspaceConnectors | null => this.current?.connectors ?? null;
    this.pollers = new EventPollers({
      workspace: this.options.root,
      log: this.options.log,
      instances: () => connectors()?.list() ?? [],
      trusted: (instance) => instance.endpoints.every((endpoint) => trust.allows(endpoint)),
      context: (instance, signal) => {
        const found = connectors();
        if (!found) throw new Error('the conductor is not running');
        return found.probeContext(instance, signal);
      },
      pollSeconds: (instance) => this.config?.connectors[instance.name]?.pollSeconds,
      lists: () => this.config?.approvals.lists ?? {},
      onPolled: () => this.options.onEventsPolled?.(),
      start: async (runbook, inputs, origin) => {
        const started = await (await this.get()).startFromEvent(runbook, inputs, origin);
        if (started.started) this.alerts?.triggeredRun(started.run.id);
        return started;
      },
    });
    return this.pollers;
  }

  /** `keel eval`: runs the evals; drift from the baseline raises an alert (keel.yaml `alerts.on: [evalDrift]`). */
  async evaluate(request: Parameters<Conductor['evaluate']>[0]): Promise<EvalRun> {
    const run = await (await this.get()).evaluate(request);
    if (run.drift) this.alerts?.evalDrift(run.drift);
    const tier = run.results[0]?.tier;
    if (tier) this.options.onEvalsChanged?.({ runbook: request.runbook, tier, drift: run.drift });
    return run;
  }

  /**
   * The conductor, its trace store in line with the journals (see Conductor.caughtUp): what every
   * request but a run's start reads, as it always was.
   */
  async get(): Promise<Conductor> {
    const conductor = await this.opened();
    await conductor.caughtUp();
    return conductor;
  }

  /**
   * The conductor as soon as its journals are read, to start a run: a run's first step does not
   * wait for DuckDB (issue 14), and the start waits itself when a quota or `costAbove` needs it.
   */
  starter(): Promise<Conductor> {
    return this.opened();
  }

  private async opened(): Promise<Conductor> {
    if (!this.config) {
      throw new NotInitialized('This folder is not a Keel workspace (no keel.yaml): run "keel init" first.');
    }
    // Stopped (the daemon closing, or keel.yaml gone): a late caller must not open a second
    // conductor, which would resume the runs the stop just interrupted and keep their journals and
    // the trace store open beside the next daemon's. Only keel.yaml coming back opens one again.
    if (!this.conductor && this.stopping) {
      throw new Unavailable('the daemon is stopping; try again once it is back');
    }
    this.conductor ??= this.open(this.config);
    try {
      return await this.conductor;
    } catch (error) {
      this.conductor = null;
      throw error;
    }
  }

  /** Problems of an edited runbook's hand-offs against the saved runbooks, for live diagnostics. */
  async handoffProblems(node: HandoffNode): Promise<Problem[]> {
    if (!this.config) return [];
    const conductor = this.conductor ? await this.conductor.catch(() => null) : null;
    const catalog = conductor?.runbooks ?? new RunbookCatalog(this.options.root, this.config.runbooks.dir);
    return catalog.handoffProblems(node).catch(() => []);
  }

  /** Problems of the runbook files, for diagnostics. */
  async problems(): Promise<Problem[]> {
    if (!this.config) return [];
    const conductor = this.conductor ? await this.conductor.catch(() => null) : null;
    const catalog = conductor?.runbooks ?? new RunbookCatalog(this.options.root, this.config.runbooks.dir);
    return catalog.problems().catch(() => []);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.watcher?.close();
    this.watcher = null;
    this.watchedDir = null;
    if (this.timer) clearTimeout(this.timer);
    await this.triggerScheduler?.stop();
    this.triggerScheduler = null;
    await this.alerts?.stop();
    this.alerts = null;
    await this.expiry?.stop();
    this.expiry = null;
    this.pollers = null;
    const conductor = this.conductor;
    this.conductor = null;
    this.current = null;
    // With no conductor, a refresh closes the listener (and one queued before cannot reopen it).
    await this.refreshWebhooks();
    const running = conductor ? await conductor.catch(() => null) : null;
    await running?.stop();
  }

  private open(config: WorkspaceConfig): Promise<Conductor> {
    // A keel.yaml that comes back after one went missing (which stopped everything) starts again.
    this.stopping = false;
    const { memory } = this.options;
    const opening = Conductor.open({
      workspace: this.options.root,
      log: this.options.log,
      config,
      resume: this.options.mode === 'daemon',
      trust: this.options.trust,
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      // The editor's notifications stay as they are; alerts listen next to them.
      onRunChanged: (summary) => {
        this.options.onRunChanged(summary);
        this.alerts?.runChanged(summary);
      },
      onApprovalChanged: (proposal, pending) => {
        this.options.onApprovalChanged(proposal, pending);
        this.alerts?.checkWaiting();
      },
      onControlChanged: (state) => {
        this.options.onControlChanged(state);
        this.alerts?.controlChanged(state);
      },
      ...(this.options.connectors ? { connectors: this.options.connectors } : {}),
      // Opened by the first search or read of a run, never before its first step.
      memory: () => Promise.resolve(memory.reader()),
    });
    opening.then(
      (conductor) => {
        this.current = conductor;
        // The listener routes to the conductor's connectors: it can start now.
        void this.refreshWebhooks();
      },
      () => undefined,
    );
    const key = this.apiKey;
    const keyed = key
      ? opening.then((conductor) => (conductor.setApiKey(key.key, key.origin), conductor))
      : opening;
    return this.options.mode === 'daemon'
      ? keyed.then((c) => this.openAlerts(c)).then((c) => this.openExpiry(c))
      : keyed;
  }

  /** The daily expiry job of a conductor just opened: it proposes through its approvals. */
  private async openExpiry(conductor: Conductor): Promise<Conductor> {
    await this.expiry?.stop();
    this.expiry = await ExpiryJob.open({
      workspace: this.options.root,
      log: this.options.log,
      clock: this.options.clock ?? systemClock,
      config: () => this.config ?? DEFAULT_CONFIG,
      approvals: conductor.approvals,
      trusted: () => this.options.trust.trusted,
    });
    this.expiry.start();
    return conductor;
  }

  /** The expiry job (tests wait on its runs); null outside the daemon or before the conductor opened. */
  expiryJob(): ExpiryJob | null {
    return this.expiry;
  }

  /** The alert service of a conductor just opened; its connectors deliver the alerts. */
  private async openAlerts(conductor: Conductor): Promise<Conductor> {
    await this.alerts?.stop();
    this.alerts = await AlertService.open(
      {
        workspace: this.options.root,
        log: this.options.log,
        trusted: () => this.options.trust.trusted,
        connectors: () => conductor.connectors,
        pendingApprovals: () => conductor.approvals.list(['pending']),
        scrub: conductor.redactText,
      },
      this.config?.alerts,
    );
    this.alerts.controlChanged(conductor.controlState());
    return conductor;
  }

  /** Resolves once every alert raised so far is queued and sent, or waits to be retried (tests). */
  async alertsSettled(): Promise<void> {
    await this.alerts?.settled();
  }

  private watchRunbooks(dir: string): void {
    if (this.watchedDir === dir) return;
    this.watcher?.close();
    this.watchedDir = dir;
    try {
      this.watcher = watch(join(this.options.root, dir), () => this.scheduleChanged());
      this.watcher.on('error', () => {
        this.watcher = null;
        this.watchedDir = null;
      });
    } catch {
      // No runbooks folder yet: the daemon's workspace watcher calls runbooksFolderChanged when one appears.
      this.watcher = null;
      this.watchedDir = null;
    }
  }

  /** Something changed at the top of the workspace: the runbooks folder may have appeared. */
  runbooksFolderChanged(): void {
    if (this.config && this.options.mode === 'daemon') {
      this.watchRunbooks(this.config.runbooks.dir);
      this.scheduleChanged();
    }
  }

  private scheduleChanged(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.triggerScheduler?.refresh();
      void this.conductor?.then((conductor) => conductor.retryHeld()).catch(() => undefined);
      void this.listRunbooks().then(
        (runbooks) => this.options.onRunbooksChanged(runbooks),
        (error: unknown) => this.options.log.warn('listing runbooks failed', { error }),
      );
    }, WATCH_DEBOUNCE_MS);
  }

  private async listRunbooks(): Promise<RunbookInfo[]> {
    const conductor = this.conductor ? await this.conductor.catch(() => null) : null;
    const catalog = conductor?.runbooks ?? new RunbookCatalog(this.options.root, this.config!.runbooks.dir);
    return (await catalog.list()).map((r) => r.info);
  }
}
