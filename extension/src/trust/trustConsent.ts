/**
 * Keel's consent per workspace, in the editor. VS Code's Workspace Trust comes first: in Restricted
 * Mode the daemon only indexes and searches, and Keel asks nothing. Once VS Code trusts the folder,
 * Keel asks (a modal naming every endpoint origin, key variable and trigger the workspace wants)
 * whenever the daemon reports the workspace untrusted: before the first grant, and again when
 * those settings change.
 */
import * as vscode from 'vscode';
import {
  describeWants,
  ErrorCodes,
  KeelRpcError,
  TrustGrantRequest,
  TrustRevokeRequest,
  TrustStateRequest,
  trustStanding,
  type TrustState,
} from '@keel/schemas';
import type { DaemonClient } from '../daemonClient';
import { consentPrompt, notTrustedMessage, notTrustedState, shouldAskForConsent } from './trustModel';

export const TRUST_AND_ALLOW = 'Trust and allow';
export const NOT_NOW = 'Not now';

export class TrustConsent implements vscode.Disposable {
  /** Settings (by wantsHash) the operator answered "Not now" to in this window: not asked again unasked. */
  private readonly declined = new Set<string>();
  private asking: Promise<void> | null = null;
  /** Set while the operator's own `Initialize Workspace` runs: its keel.yaml is Keel's, not the folder's. */
  private initializing = false;
  /** Set while the daemon started in Restricted Mode gives way to one started trusted. */
  private restarting = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly client: DaemonClient,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      client.onDidChange((snapshot) => this.consider(snapshot.daemon?.trust ?? null)),
      // The daemon started in Restricted Mode acts untrusted whatever Keel's record says: start it
      // afresh, trusted by the editor, and ask once it reports what the workspace wants.
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (client.state.connection === 'stopped') return;
        // Not the restricted daemon's state: it may still report while it stops.
        this.restarting = true;
        void client.restart().finally(() => {
          this.restarting = false;
          this.consider(client.state.daemon?.trust ?? null);
        });
      }),
    );
  }

  /** Asks when the editor trusts the folder, the daemon does not, and this was not declined already. */
  consider(state: TrustState | null): void {
    if (this.asking || this.initializing || this.restarting) return;
    const input = { editorTrusted: vscode.workspace.isTrusted, state, declined: this.declined };
    if (state && shouldAskForConsent(input)) this.ask(state);
  }

  /**
   * Keel: Review Workspace Trust. Restricted Mode opens VS Code's trust dialog; otherwise the consent
   * prompt shows what the workspace wants, and a trusted workspace offers to take the trust back.
   */
  async review(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      await vscode.commands.executeCommand('workbench.trust.manage');
      return;
    }
    await this.client.start();
    if (this.client.state.connection !== 'running') return;
    const state = await this.client.request(TrustStateRequest);
    if (trustStanding(state) !== 'trusted') {
      this.declined.delete(state.wantsHash);
      this.ask(state);
      await this.asking;
      return;
    }
    const revoke = 'Revoke Trust';
    const choice = await vscode.window.showInformationMessage(
      'Keel: you trust this workspace with the following.',
      { modal: true, detail: describeWants(state).join('\n') },
      revoke,
    );
    if (choice !== revoke) return;
    const revoked = await this.client.request(TrustRevokeRequest);
    // Taken back on purpose: not asked again in this window until the operator reviews it.
    this.declined.add(revoked.wantsHash);
    this.client.noteTrust(revoked);
  }

  /**
   * Runs the operator's `Initialize Workspace`. A keel.yaml it creates holds Keel's own defaults, not
   * settings from whoever made the folder, so the operator who asked for it is not asked about it:
   * trust is granted for exactly those settings. A keel.yaml that was there already asks as usual.
   */
  async whileInitializing<T extends { created: string[] }>(init: () => Promise<T>): Promise<T> {
    this.initializing = true;
    try {
      const result = await init();
      if (result.created.includes('keel.yaml') && vscode.workspace.isTrusted) {
        const state = await this.client.request(TrustStateRequest);
        if (!state.trusted) {
          const granted = await this.client.request(TrustGrantRequest, { wantsHash: state.wantsHash });
          this.client.noteTrust(granted);
        }
      }
      return result;
    } finally {
      this.initializing = false;
      this.consider(this.client.state.daemon?.trust ?? null);
    }
  }

  /**
   * A NotTrusted answer from the daemon gets a message with a way to review trust instead of an
   * error toast. False for any other error.
   */
  explain(error: unknown): boolean {
    const state = notTrustedState(error);
    if (!state) return false;
    this.output.info(`Refused until the workspace is trusted: ${(error as Error).message}`);
    void vscode.window.showWarningMessage(notTrustedMessage(state), 'Review Trust').then(async (choice) => {
      if (choice) await this.review();
    });
    return true;
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }

  private ask(state: TrustState): void {
    this.asking = (async () => {
      // Asked again, at once, when the settings changed while the prompt was open.
      for (let next: TrustState | null = state; next;) next = await this.prompt(next);
    })()
      .catch((error: unknown) => {
        this.output.error(`Keel's trust prompt failed: ${(error as Error).message}`);
      })
      .finally(() => (this.asking = null));
  }

  /** Shows the prompt and sends the operator's answer; returns the new settings to ask about, if any. */
  private async prompt(state: TrustState): Promise<TrustState | null> {
    const { message, detail } = consentPrompt(state);
    const choice = await vscode.window.showWarningMessage(
      message,
      { modal: true, detail },
      { title: TRUST_AND_ALLOW },
      { title: NOT_NOW, isCloseAffordance: true },
    );
    if (choice?.title !== TRUST_AND_ALLOW) {
      this.declined.add(state.wantsHash);
      this.output.info('Workspace trust: the operator answered "Not now"; Keel stays restricted.');
      return null;
    }
    try {
      const granted = await this.client.request(TrustGrantRequest, { wantsHash: state.wantsHash });
      this.output.info(`Workspace trust granted for ${granted.workspace}.`);
      this.client.noteTrust(granted);
      await this.client.sendApiKey();
      return null;
    } catch (error) {
      if (!(error instanceof KeelRpcError) || error.code !== ErrorCodes.TrustChanged) throw error;
      this.output.info('Workspace trust: the settings changed while asking; asking again.');
      return this.client.request(TrustStateRequest);
    }
  }
}
