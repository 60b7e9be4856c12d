/**
 * CPU-bound work on untrusted input (parsing and embedding notes, rendering templates) runs here,
 * off the daemon's main thread, so that the emergency stop and every other request keep answering
 * whatever a note or a runbook contains. One worker thread per `WorkerThread`; requests run one
 * at a time, each under a deadline: a request past it terminates the worker (the only way to stop
 * a loop in JavaScript), fails with `WorkerTimeoutError`, and the next request gets a new worker.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerRequest, WorkerResponse, WorkerTasks } from './workerTasks';

export class WorkerTimeoutError extends Error {
  constructor(task: string, timeoutMs: number) {
    super(`${task} took longer than ${timeoutMs / 1000} s and was stopped`);
    this.name = 'WorkerTimeoutError';
  }
}

interface Pending {
  request: WorkerRequest;
  timeoutMs: number;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export interface WorkerThreadOptions {
  /** Names the thread in errors and logs: `memory`, `templates`. */
  name: string;
  /** The deadline of a request unless the call gives its own. */
  timeoutMs: number;
  /** What each worker started gets as its `workerData`, asked for when it starts. */
  workerData?: () => unknown;
}

let nextRequestId = 1;

export class WorkerThread {
  private worker: Worker | null = null;
  /** Whether `worker` has loaded: a request's deadline does not count the thread's start-up. */
  private online = false;
  private readonly queue: Pending[] = [];
  private current: { pending: Pending; timer: NodeJS.Timeout | null } | null = null;
  private closed = false;

  constructor(private readonly options: WorkerThreadOptions) {}

  /** Runs `task` on the worker; rejects with the task's error or `WorkerTimeoutError`. */
  call<K extends keyof WorkerTasks>(
    task: K,
    input: WorkerTasks[K]['input'],
    timeoutMs = this.options.timeoutMs,
  ): Promise<WorkerTasks[K]['output']> {
    if (this.closed) return Promise.reject(new Error(`The ${this.options.name} worker is closed`));
    return new Promise((resolve, reject) => {
      const request = { id: nextRequestId++, task, input } as WorkerRequest;
      this.queue.push({ request, timeoutMs, resolve: resolve, reject });
      this.next();
    });
  }

  /** Whether a worker is running now (one starts with the first request after none was). */
  get started(): boolean {
    return this.worker !== null;
  }

  /** Stops the worker; requests not answered yet fail. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error(`The ${this.options.name} worker was closed`);
    for (const pending of this.queue.splice(0)) pending.reject(error);
    if (this.current) {
      if (this.current.timer) clearTimeout(this.current.timer);
      this.current.pending.reject(error);
      this.current = null;
    }
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private next(): void {
    if (this.current || this.closed) return;
    const pending = this.queue.shift();
    if (!pending) {
      // An idle worker does not keep the process alive; a busy one does.
      this.worker?.unref();
      return;
    }
    const worker = this.ensureWorker();
    worker.ref();
    this.current = { pending, timer: null };
    if (this.online) this.startDeadline();
    worker.postMessage(pending.request);
  }

  private startDeadline(): void {
    if (this.current && !this.current.timer) {
      this.current.timer = setTimeout(() => this.timedOut(), this.current.pending.timeoutMs);
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerScript(), {
      name: `keel-${this.options.name}`,
      workerData: this.options.workerData?.(),
    });
    this.online = false;
    worker.on('message', (response: WorkerResponse) => this.answered(worker, response));
    worker.on('error', (error) => this.crashed(worker, error));
    worker.on('exit', (code) => this.crashed(worker, new Error(`the worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }

  private answered(worker: Worker, response: WorkerResponse): void {
    if ('ready' in response) {
      if (worker === this.worker) {
        this.online = true;
        this.startDeadline();
      }
      return;
    }
    const current = this.current;
    if (worker !== this.worker || !current || current.pending.request.id !== response.id) return;
    if (current.timer) clearTimeout(current.timer);
    this.current = null;
    if (response.ok) current.pending.resolve(response.output);
    else current.pending.reject(new Error(response.error));
    this.next();
  }

  private timedOut(): void {
    const current = this.current;
    if (!current) return;
    this.current = null;
    this.discardWorker();
    current.pending.reject(
      new WorkerTimeoutError(describeTask(current.pending.request), current.pending.timeoutMs),
    );
    this.next();
  }

  private crashed(worker: Worker, error: Error): void {
    if (worker !== this.worker) return;
    this.discardWorker();
    const current = this.current;
    this.current = null;
    if (current) {
      if (current.timer) clearTimeout(current.timer);
      current.pending.reject(new Error(`The ${this.options.name} worker failed: ${error.message}`));
    }
    this.next();
  }

  private discardWorker(): void {
    const worker = this.worker;
    this.worker = null;
    if (worker) void worker.terminate();
  }
}

function describeTask(request: WorkerRequest): string {
  switch (request.task) {
    case 'prepareFiles':
      return `Reading ${request.input.files.map((f) => f.path).join(', ')}`;
    case 'render':
      return 'Rendering the template';
    case 'collectGarbage':
      return 'Collecting garbage';
    default:
      return `The ${String((request as { task: unknown }).task)} task`;
  }
}

/** The worker's bundle: next to the daemon's (dist/), or built from these sources by `npm run build`. */
export function workerScript(): string {
  const candidates = [
    join(__dirname, 'worker.js'),
    join(__dirname, '..', '..', 'dist', 'worker.js'), // daemon/src/runtime → daemon/dist
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      'The daemon\'s worker (dist/worker.js) is missing; run "npm run build" in the Keel repository.',
    );
  }
  return found;
}
