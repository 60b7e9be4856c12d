/** What the CLI and tests talk to, whether the daemon is a process behind a socket or in-process. */
import type { z } from 'zod';
import type { NotificationDefinition, ParamsOf, RequestDefinition, ResultOf } from '@keel/schemas';

export interface KeelClient {
  request<T extends RequestDefinition>(definition: T, params?: ParamsOf<T>): Promise<ResultOf<T>>;
  onNotification<T extends NotificationDefinition>(
    definition: T,
    handler: (params: z.output<T['params']>) => void,
  ): () => void;
  close(): Promise<void>;
}
