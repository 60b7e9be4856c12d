/** Every message of the Keel protocol, and the list of them all (for routers and tests). */
import { BudgetAdviceRequest } from './advice';
import {
  ApprovalApproveRequest,
  ApprovalGetRequest,
  ApprovalRejectRequest,
  ApprovalsChangedNotification,
  ApprovalsListRequest,
} from './approvals';
import {
  ControlChangedNotification,
  ControlStateRequest,
  EmergencyStopRequest,
  MetricsReportRequest,
  ResumeRequest,
} from './control';
import {
  ConnectorsChangedNotification,
  ConnectorsCheckRequest,
  ConnectorsListRequest,
  SetConnectorSecretRequest,
} from './connectors';
import type { MessageDefinition } from './define';
import { EvalReportRequest, EvalRunRequest, EvalsChangedNotification } from './evals';
import { RunForecastRequest } from './forecast';
import { GcRequest } from './gc';
import { ShutdownRequest } from './lifecycle';
import {
  IndexChangedNotification,
  IndexRebuildRequest,
  IndexRefreshRequest,
  IndexStatusRequest,
  IndexSyncRequest,
  MemoryGetRequest,
  MemorySearchRequest,
} from './memory';
import { MemorySearchAsOfRequest } from './memoryAsOf';
import {
  RunbooksChangedNotification,
  RunbooksListRequest,
  RunbookTestRequest,
  RunCancelRequest,
  RunChangedNotification,
  RunGetRequest,
  RunReplayRequest,
  RunsListRequest,
  RunStartRequest,
  SetApiKeyRequest,
} from './runs';
import { MemoryWhyRequest, RunRerunRequest, StaleRunsRequest } from './provenance';
import { AuthRequest } from './session';
import { RunCheckpointRequest, RunTakeoverRequest } from './takeover';
import { StatusChangedNotification, StatusRequest } from './status';
import { TrustChangedNotification, TrustGrantRequest, TrustRevokeRequest, TrustStateRequest } from './trust';
import { WorkspaceInitRequest } from './workspace';

export * from './advice';
export * from './approvals';
export * from './common';
export * from './connectors';
export * from './control';
export * from './define';
export * from './errors';
export * from './evals';
export * from './forecast';
export * from './gc';
export * from './lifecycle';
export * from './memory';
export * from './memoryAsOf';
export * from './provenance';
export * from './runs';
export * from './session';
export * from './status';
export * from './takeover';
export * from './trust';
export * from './workspace';

export const allMessages: readonly MessageDefinition[] = [
  AuthRequest,
  StatusRequest,
  StatusChangedNotification,
  WorkspaceInitRequest,
  ShutdownRequest,
  GcRequest,
  MemorySearchRequest,
  MemorySearchAsOfRequest,
  MemoryGetRequest,
  MemoryWhyRequest,
  StaleRunsRequest,
  RunRerunRequest,
  IndexStatusRequest,
  IndexChangedNotification,
  IndexSyncRequest,
  IndexRefreshRequest,
  IndexRebuildRequest,
  RunbooksListRequest,
  RunStartRequest,
  RunForecastRequest,
  RunsListRequest,
  RunGetRequest,
  RunCancelRequest,
  RunReplayRequest,
  RunbookTestRequest,
  RunTakeoverRequest,
  RunCheckpointRequest,
  RunChangedNotification,
  RunbooksChangedNotification,
  SetApiKeyRequest,
  SetConnectorSecretRequest,
  ConnectorsListRequest,
  ConnectorsCheckRequest,
  ConnectorsChangedNotification,
  ApprovalsListRequest,
  ApprovalGetRequest,
  ApprovalApproveRequest,
  ApprovalRejectRequest,
  ApprovalsChangedNotification,
  ControlStateRequest,
  EmergencyStopRequest,
  ResumeRequest,
  ControlChangedNotification,
  MetricsReportRequest,
  EvalRunRequest,
  EvalReportRequest,
  EvalsChangedNotification,
  BudgetAdviceRequest,
  TrustStateRequest,
  TrustGrantRequest,
  TrustRevokeRequest,
  TrustChangedNotification,
];
