/**
 * Polls the event sources of trusted connectors that some armed `event` trigger listens to, and
 * starts a run per matching event and trigger. Exactly once across restarts: a run's id is
 * derived from its trigger and event, so starting it again finds it (Conductor.startFromEvent),
 * and a connector's cursor is saved only after every event up to it was handed over; a crash in
 * between hands the same events over again and starts nothing twice.
 */
import type { EventTrigger, Runbook } from '@keel/schemas';
import { NotTrusted } from '../errors';
import type { Logger } from '../log';
import type { ConnectorInstance } from '../connectors/registry';
import type { ActionContext } from '../connectors/sdk';
import type { EventOrigin } from './conductor';
import { EventCursors, settingsHash } from './eventCursors';
import { eventPasses, eventScope } from './eventPayload';
import type { InputValues } from './runInputs';
import { renderInputs } from './triggerInputs';

/** One event as a connector hands it over. */
export type ConnectorEventItem = { name: string; id: string; payload: unknown };

/** An armed event trigger: the operator consented to it. */
export interface EventListener {
  runbook: Runbook;
  trigger: EventTrigger;
  /** The trigger's identity (trust/wants triggerId): runs are unique per trigger and event. */
  triggerId: string;
}

/** What the sidebar shows of one connector's polling. */
export interface EventSourceStatus {
  connector: string;
  lastPollAt: string | null;
  lastEventAt: string | null;
  lastError: string | null;
  cursor?: string;
}

export interface EventPollersOptions {
  workspace: string;
  log: Logger;
  /** keel.yaml's connector instances as they are now. */
  instances: () => readonly ConnectorInstance[];
  /** Whether the operator consented to every endpoint of the instance. */
  trusted: (instance: ConnectorInstance) => boolean;
  /** The instance's context; throws unless it is trusted (WorkspaceConnectors.probeContext). */
  context: (instance: ConnectorInstance, signal: AbortSignal) => Omit<ActionContext, 'idempotencyKey'>;
  /** Seconds between polls from keel.yaml (`connectors.<name>.pollSeconds`), or undefined. */
  pollSeconds: (instance: ConnectorInstance) => number | undefined;
  /** keel.yaml's `approvals.lists`, for filters that test `in`. */
  lists: () => Record<string, string[]>;
  /** After each poll, worked or not (the sidebar's Connectors section shows the outcome). */
  onPolled?: () => void;
  /** Starts the run of an event at most once (Conductor.startFromEvent); may refuse it. */
  start: (
    runbook: string,
    inputs: InputValues,
    origin: EventOrigin,
  ) => Promise<{ run: { id: string }; started: boolean }>;
}

export const DEFAULT_POLL_SECONDS = 30;
/** How long a webhook delivery waits for the triggers to be armed after a start. */
const ARM_WAIT_MS = 15_000;
/** Failed polls back off, doubling, to at most this many intervals. */
const MAX_BACKOFF_FACTOR = 10;

/** One poller per connector instance that has listeners. */
export class EventPollers {
  private cursors: Promise<EventCursors> | null = null;
  private readonly pollers = new Map<string, Poller>();
  private stopped = false;
  /** The armed listeners, for events pushed to the webhook listener. */
  private armed: readonly EventListener[] = [];
  /** Resolves once the triggers were armed for the first time: a delivery before waits for it. */
  private armedOnce!: () => void;
  private readonly firstArmed = new Promise<void>((resolve) => (this.armedOnce = resolve));
  /** Instances that received webhook deliveries: their last event and last failure, for the sidebar. */
  private readonly deliveries = new Map<string, { lastEventAt: string | null; lastError: string | null }>();

  constructor(private readonly options: EventPollersOptions) {}

  /**
   * Re-targets the pollers to these listeners: a connector nobody listens to any more, no longer
   * trusted, or whose settings changed, stops; a new one starts (its first poll starts from its
   * saved cursor, or from now).
   */
  async update(listeners: readonly EventListener[]): Promise<void> {
    if (this.stopped) return;
    this.armed = listeners;
    this.armedOnce();
    const wanted = new Map<string, { instance: ConnectorInstance; listeners: EventListener[] }>();
    // Every instance is asked (one that only receives webhooks emits too), but only those with an
    // event source are polled.
    const instances = this.options.instances();
    for (const listener of listeners) {
      for (const instance of this.listenedTo(listener, instances)) {
        if (!instance.connector.source) continue;
        const entry = wanted.get(instance.name) ?? { instance, listeners: [] };
        entry.listeners.push(listener);
        wanted.set(instance.name, entry);
      }
    }
    for (const [name, poller] of this.pollers) {
      const next = wanted.get(name);
      if (!next || poller.signature !== this.signature(next.instance)) {
        this.pollers.delete(name);
        await poller.stop();
      }
    }
    if (wanted.size === 0) return;
    this.cursors ??= EventCursors.load(this.options.workspace, (m) => this.options.log.warn(m));
    const cursors = await this.cursors;
    for (const [name, { instance, listeners: theirs }] of wanted) {
      const existing = this.pollers.get(name);
      if (existing) {
        existing.listeners = theirs;
        continue;
      }
      const poller = new Poller(
        instance,
        this.signature(instance),
        theirs,
        cursors,
        this.options,
        this.interval(instance),
      );
      this.pollers.set(name, poller);
      poller.begin();
    }
  }

  /**
   * Hands over events an instance pushed (a verified webhook delivery) to the armed listeners of
   * that instance, exactly as polled events; resolves once each run is started or found. A run
   * refused for lack of trust rejects, so the sender is told to deliver again later.
   */
  async deliver(instance: ConnectorInstance, events: readonly ConnectorEventItem[]): Promise<number> {
    if (this.stopped) throw new Error('the daemon is stopping; deliver again when it is back');
    const waited = await Promise.race([
      this.firstArmed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ARM_WAIT_MS).unref()),
    ]);
    if (!waited) throw new Error('the triggers are not armed yet; deliver again later');
    const emitting = this.options.instances();
    const theirs = this.armed.filter((listener) =>
      this.listenedTo(listener, emitting).some((i) => i.name === instance.name),
    );
    const signal = new AbortController().signal;
    const seen = this.deliveries.get(instance.name) ?? { lastEventAt: null, lastError: null };
    this.deliveries.set(instance.name, seen);
    try {
      for (const event of events) await handOver(this.options, instance, theirs, event, signal);
      if (events.length > 0) seen.lastEventAt = new Date().toISOString();
      seen.lastError = null;
    } catch (error) {
      seen.lastError = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      this.options.onPolled?.();
    }
    if (theirs.length === 0) {
      this.options.log.info('a webhook delivery was accepted, but no armed trigger listens to it', {
        connector: instance.name,
      });
    }
    return theirs.length;
  }

  /** Each polled or webhook-fed instance: its last poll, last event and last failure. */
  status(): EventSourceStatus[] {
    const polled = [...this.pollers.values()].map((p) => p.status());
    const byName = new Map(polled.map((status) => [status.connector, status]));
    for (const [connector, pushed] of this.deliveries) {
      const poll = byName.get(connector);
      const later = [poll?.lastEventAt ?? null, pushed.lastEventAt].filter((at) => at !== null).sort();
      byName.set(connector, {
        ...(poll ?? { connector, lastPollAt: null }),
        lastEventAt: later.at(-1) ?? null,
        lastError: pushed.lastError ?? poll?.lastError ?? null,
      });
    }
    return [...byName.values()].sort((a, b) => a.connector.localeCompare(b.connector));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const pollers = [...this.pollers.values()];
    this.pollers.clear();
    await Promise.all(pollers.map((p) => p.stop()));
  }

  /** The trusted instances a listener's events come from; an ambiguous or unknown one is named in the log. */
  private listenedTo(listener: EventListener, instances: readonly ConnectorInstance[]): ConnectorInstance[] {
    const { trigger, runbook } = listener;
    const emitting = instances.filter((i) => Object.hasOwn(i.connector.events, trigger.event));
    const chosen = trigger.connector ? emitting.filter((i) => i.name === trigger.connector) : emitting;
    const about = {
      runbook: runbook.name,
      event: trigger.event,
      emitting: emitting.map((i) => i.name).join(', ') || 'none',
    };
    if (chosen.length === 0) {
      this.options.log.warn(
        trigger.connector
          ? `no connector "${trigger.connector}" in keel.yaml emits ${trigger.event}; the trigger waits for one`
          : `no connector in keel.yaml emits ${trigger.event}; the trigger waits for one`,
        about,
      );
      return [];
    }
    if (chosen.length > 1) {
      this.options.log.warn(
        `several connectors emit ${trigger.event} (${chosen.map((i) => i.name).join(', ')}); ` +
          `name one with "connector:" in the trigger of runbooks/${runbook.name}`,
        about,
      );
      return [];
    }
    if (!this.options.trusted(chosen[0]!)) {
      this.options.log.info('an event trigger waits for the operator to trust its connector', {
        ...about,
        connector: chosen[0]!.name,
      });
      return [];
    }
    return chosen;
  }

  private interval(instance: ConnectorInstance): number {
    return (this.options.pollSeconds(instance) ?? DEFAULT_POLL_SECONDS) * 1000;
  }

  private signature(instance: ConnectorInstance): string {
    return JSON.stringify([
      settingsHash(instance.connector.id, instance.config),
      instance.endpoints,
      this.interval(instance),
    ]);
  }
}

/** Polls one connector instance on a timer until stopped. */
class Poller {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private failures = 0;
  private lastPollAt: string | null = null;
  private lastEventAt: string | null = null;
  private lastError: string | null = null;
  private readonly settings: string;

  constructor(
    private readonly instance: ConnectorInstance,
    readonly signature: string,
    public listeners: EventListener[],
    private readonly cursors: EventCursors,
    private readonly options: EventPollersOptions,
    private readonly intervalMs: number,
  ) {
    this.settings = settingsHash(instance.connector.id, instance.config);
  }

  begin(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.controller.abort(new Error('the event source stopped'));
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  status(): EventSourceStatus {
    const cursor = this.cursors.get(this.instance.name, this.settings);
    return {
      connector: this.instance.name,
      lastPollAt: this.lastPollAt,
      lastEventAt: this.lastEventAt,
      lastError: this.lastError,
      ...(cursor !== null ? { cursor } : {}),
    };
  }

  private schedule(ms: number): void {
    if (this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pollOnce().then((ok) => {
        this.options.onPolled?.();
        this.failures = ok ? 0 : this.failures + 1;
        const factor = Math.min(2 ** this.failures, MAX_BACKOFF_FACTOR);
        this.schedule(this.intervalMs * factor);
      });
    }, ms);
    this.timer.unref();
  }

  /** One poll; resolves with whether it worked (errors are recorded, never thrown). */
  private async pollOnce(): Promise<boolean> {
    const { signal } = this.controller;
    const name = this.instance.name;
    try {
      const context = this.options.context(this.instance, signal);
      const result = await this.instance.connector.source!.poll(
        this.cursors.get(name, this.settings),
        context,
      );
      this.lastPollAt = new Date().toISOString();
      for (const event of result.events) {
        if (signal.aborted) return true; // stopped mid-batch: the cursor stays, the rest comes again
        await this.handOver(event);
      }
      if (signal.aborted) return true;
      if (result.events.length > 0) this.lastEventAt = new Date().toISOString();
      // Only now: every event up to this cursor was handed over.
      await this.cursors.set(name, this.settings, result.cursor);
      this.lastError = null;
      return true;
    } catch (error) {
      if (signal.aborted) return true;
      this.lastPollAt = new Date().toISOString();
      this.lastError = error instanceof Error ? error.message : String(error);
      this.options.log.warn('polling a connector for events failed; trying again later', {
        connector: name,
        error,
      });
      return false;
    }
  }

  private handOver(event: ConnectorEventItem): Promise<void> {
    return handOver(this.options, this.instance, this.listeners, event, this.controller.signal);
  }
}

/**
 * Starts a run for each listener whose filter the event passes; a refusal is logged, not retried.
 * Polled events and webhook deliveries both come through here, so both start one run per trigger
 * and event id.
 */
async function handOver(
  options: EventPollersOptions,
  instance: ConnectorInstance,
  listeners: readonly EventListener[],
  event: ConnectorEventItem,
  signal: AbortSignal,
): Promise<void> {
  const firedAt = new Date().toISOString();
  for (const { runbook, trigger, triggerId } of listeners) {
    if (trigger.event !== event.name) continue;
    if (!eventPasses(trigger.filter, event.payload, options.lists())) continue;
    const about = {
      runbook: runbook.name,
      connector: instance.name,
      event: event.name,
      eventId: event.id,
    };
    const scope = {
      trigger: {
        type: 'event',
        runbook: runbook.name,
        connector: instance.name,
        eventId: event.id,
        firedAt,
        event: eventScope(event.name, event.payload),
      },
    };
    let inputs: InputValues;
    try {
      inputs = await renderInputs(trigger.inputs ?? {}, scope);
    } catch (error) {
      options.log.warn("an event trigger's inputs could not be rendered; no run", { ...about, error });
      continue;
    }
    const origin: EventOrigin = {
      type: 'event',
      event: event.name,
      connector: instance.name,
      eventId: event.id,
      trigger: triggerId,
    };
    try {
      const { run, started } = await options.start(runbook.name, inputs, origin);
      options.log.info(started ? 'an event started a run' : 'an event had started its run already', {
        ...about,
        run: run.id,
      });
    } catch (error) {
      // The daemon is stopping: this event comes again after the restart (the cursor stays).
      // Trust was just lost: the event waits for it, like the poller does.
      if (signal.aborted || error instanceof NotTrusted) throw error;
      if (/daemon is stopping/.test((error as Error).message)) throw error;
      options.log.warn('an event fired but the run was refused', {
        ...about,
        reason: (error as Error).message,
      });
    }
  }
}
