/** The daemon's health and identity, asked for by clients and pushed to them when it changes. */
import { z } from 'zod';
import { Problem, NoParams } from './common';
import { defineNotification, defineRequest, lazy } from './define';
import { TrustState } from './trust';

export const DaemonState = lazy(() => z.enum(['starting', 'ready', 'stopping']));
export type DaemonState = z.infer<typeof DaemonState>;

/** Whether the folder is a Keel workspace: `keel.yaml` missing, present and valid, or invalid. */
export const WorkspaceConfigState = lazy(() => z.enum(['missing', 'valid', 'invalid']));
export type WorkspaceConfigState = z.infer<typeof WorkspaceConfigState>;

export const DaemonStatus = lazy(() =>
  z.object({
    state: DaemonState.unwrap(),
    /** Keel's version, from the daemon's package. */
    version: z.string(),
    pid: z.number().int().positive(),
    /** Absolute path of the workspace folder the daemon serves. */
    workspace: z.string(),
    config: WorkspaceConfigState.unwrap(),
    /** What is wrong with `keel.yaml` when `config` is `invalid`. */
    problems: z.array(Problem.unwrap()),
    startedAt: z.iso.datetime(),
    uptimeMs: z.number().int().nonnegative(),
    /** `daemon`: a long-lived process; `in-process`: started by the CLI for one command. */
    mode: z.enum(['daemon', 'in-process']),
    /** The JSON-RPC socket, or null when the daemon serves no socket (in-process mode). */
    socketPath: z.string().nullable(),
    /** Whether the operator trusted this workspace, and what it wants; null without a keel.yaml. */
    trust: TrustState.unwrap().nullable(),
  }),
);
export type DaemonStatus = z.infer<typeof DaemonStatus>;

/** `keel/status`: the daemon's current status. */
export const StatusRequest = defineRequest({
  method: 'keel/status',
  params: NoParams,
  result: DaemonStatus,
});

/** `keel/status/didChange`: sent to every connected client whenever the status changes. */
export const StatusChangedNotification = defineNotification({
  method: 'keel/status/didChange',
  direction: 'serverToClient',
  params: DaemonStatus,
});
