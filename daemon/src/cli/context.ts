/** What every CLI command shares. */
import type { Logger } from '../log';

export interface CliContext {
  readonly log: Logger;
  /** The `--workspace` option, when given. */
  workspaceOption(): string | undefined;
}
