/** What every CLI command shares. */
import type { Logger } from '../log';

export interface CliContext {
  readonly log: Logger;
  /** The `--workspace` option, when given. */
  workspaceOption(): string | undefined;
  /** `-y, --yes`: trust the workspace without asking (scripts, CI). */
  yes(): boolean;
}
