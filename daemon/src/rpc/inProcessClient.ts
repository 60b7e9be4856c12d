/** A client of a daemon running inside this process (the CLI's one-command daemon). */
import type { z } from 'zod';
import type { NotificationDefinition, ParamsOf, RequestDefinition, ResultOf } from '@keel/schemas';
import type { Daemon } from '../daemon';
import type { KeelClient } from './client';

export class InProcessClient implements KeelClient {
  constructor(private readonly daemon: Daemon) {}

  async request<T extends RequestDefinition>(definition: T, params?: ParamsOf<T>): Promise<ResultOf<T>> {
    const raw = await this.daemon.router.dispatch(definition.method, params, { transport: 'in-process' });
    return definition.result.parse(raw) as ResultOf<T>;
  }

  onNotification<T extends NotificationDefinition>(
    definition: T,
    handler: (params: z.output<T['params']>) => void,
  ): () => void {
    return this.daemon.addNotificationSink((method, params) => {
      if (method === definition.method) handler(params as z.output<T['params']>);
    });
  }

  /** Stops the in-process daemon: the command is over. */
  close(): Promise<void> {
    return this.daemon.stop('command finished');
  }
}
