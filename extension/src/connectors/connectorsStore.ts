/**
 * The extension's copy of the connectors' standing. Lists them when the daemon (re)starts, then
 * keeps them current from `keel/connectors/changed`: no polling.
 */
import * as vscode from 'vscode';
import {
  ConnectorsChangedNotification,
  ConnectorsCheckRequest,
  ConnectorsListRequest,
  type ConnectorInfo,
} from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { sortConnectors } from './connectorList';

export class ConnectorsStore implements vscode.Disposable {
  private list: ConnectorInfo[] = [];
  private error: string | null = null;
  private wasRunning = false;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChange = this.changed.event;

  constructor(private readonly client: DaemonClient) {
    this.disposables.push(
      client.onNotification(ConnectorsChangedNotification, ({ connectors }) => this.set(connectors)),
      client.onDidChange((snapshot) => {
        const running = snapshot.connection === 'running';
        if (running && !this.wasRunning) void this.refresh();
        this.wasRunning = running;
      }),
      this.changed,
    );
  }

  get connectors(): { connectors: ConnectorInfo[]; error: string | null } {
    return { connectors: this.list, error: this.error };
  }

  async refresh(): Promise<void> {
    try {
      this.set((await this.client.request(ConnectorsListRequest)).connectors);
    } catch (error) {
      this.error = (error as Error).message;
      this.changed.fire();
    }
  }

  /** Probes one connector (or all) now; the answer (and the notification after it) updates the list. */
  async check(name?: string): Promise<ConnectorInfo[]> {
    const { connectors } = await this.client.request(ConnectorsCheckRequest, name ? { name } : {});
    const fresh = new Map(connectors.map((c) => [c.name, c]));
    this.set(this.list.map((c) => fresh.get(c.name) ?? c));
    return connectors;
  }

  private set(connectors: ConnectorInfo[]): void {
    this.list = sortConnectors(connectors);
    this.error = null;
    this.changed.fire();
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
