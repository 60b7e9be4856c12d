/** Turning a folder into a Keel workspace. */
import { z } from 'zod';
import { NoParams } from './common';
import { defineRequest, lazy } from './define';

export const InitResult = lazy(() =>
  z.object({
    /** Absolute path of the workspace. */
    workspace: z.string(),
    /** Workspace-relative paths Keel created (directories end with `/`). */
    created: z.array(z.string()),
    /** Existing files Keel added to without changing what was there (`.gitignore` gaining `.keel/`). */
    updated: z.array(z.string()),
    /** Paths that already existed and were left exactly as they were. */
    kept: z.array(z.string()),
    /** True when Keel ran `git init` because the folder was not inside a git repository. */
    gitInitialized: z.boolean(),
    /** Things the operator should know, in words: `git is not installed; no repository was created`. */
    warnings: z.array(z.string()),
  }),
);
export type InitResult = z.infer<typeof InitResult>;

/**
 * `keel/workspace/init`: make the daemon's folder a Keel workspace: `keel.yaml`, `memory/`,
 * `runbooks/`, a `.gitignore` listing `.keel/`, and a git repository if there is none. Never
 * overwrites an existing file; running it twice changes nothing the second time.
 */
export const WorkspaceInitRequest = defineRequest({
  method: 'keel/workspace/init',
  params: NoParams,
  result: InitResult,
});
