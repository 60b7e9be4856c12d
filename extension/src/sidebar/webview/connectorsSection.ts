/**
 * The sidebar's Connectors section (browser code): each connector keel.yaml names with its state
 * badge, last probe (age and words), last event and last error, and Check / Set secret buttons.
 * Built once; the list re-renders in place and keyboard focus stays on the same button.
 */
import type { ConnectorInfo } from '@keel/schemas';
import type { WebviewToHostMessage } from '@keel/schemas/src/webviews';
import { connectorRow, type ConnectorRow } from '../../connectors/connectorList';
import { keepFocus, listElement, note, section, span } from './runsSections';

type Post = (message: WebviewToHostMessage) => void;

export class ConnectorsSection {
  readonly element = section('connectors', 'Connectors');
  private readonly list = listElement('ul', 'connector-list', 'Connectors');
  private readonly note = note();
  private last: ConnectorInfo[] = [];

  constructor(private readonly post: Post) {
    this.element.append(this.note, this.list);
  }

  update(connectors: ConnectorInfo[], error: string | null): void {
    this.last = connectors;
    this.note.textContent = error
      ? `Could not list the connectors: ${error}`
      : connectors.length === 0
        ? 'keel.yaml names no connectors.'
        : '';
    this.note.hidden = this.note.textContent === '';
    this.render();
  }

  /** Ages ("3m ago") move on between updates. */
  tick(): void {
    if (this.last.length > 0) this.render();
  }

  private render(): void {
    const now = Date.now();
    keepFocus(this.list, () =>
      this.list.replaceChildren(...this.last.map((info) => this.item(connectorRow(info, now)))),
    );
  }

  private item(row: ConnectorRow): HTMLElement {
    const item = document.createElement('li');
    item.className = 'connector';
    item.dataset.connector = row.name;
    item.dataset.tone = row.tone;
    item.setAttribute('aria-label', row.label);
    const head = document.createElement('div');
    head.className = 'connector-head';
    head.append(span('name', row.name), span('use muted', row.use), span(`tag state ${row.tone}`, row.badge));
    item.append(head);
    if (row.breaker) {
      const breaker = span('connector-error', row.breaker);
      breaker.setAttribute('role', 'note');
      item.append(breaker);
    }
    item.append(span('connector-probe muted', `probe ${row.probe}`));
    if (row.probeDetail) item.append(span('connector-detail muted', row.probeDetail));
    if (row.version) item.append(span('connector-detail muted', row.version));
    if (row.lastEvent) item.append(span('connector-event muted', row.lastEvent));
    if (row.error) {
      const error = span('connector-error', row.error);
      error.setAttribute('role', 'note');
      item.append(error);
    }
    const actions = document.createElement('div');
    actions.className = 'connector-actions';
    actions.append(
      this.button('Check', `Check the connector ${row.name} now`, `check:${row.name}`, () =>
        this.post({ type: 'checkConnector', name: row.name }),
      ),
    );
    if (row.secrets.length > 0) {
      actions.append(
        this.button(
          'Set secret',
          `Set the ${row.secrets.join(' or ')} of ${row.name} in the editor’s secret storage`,
          `secret:${row.name}`,
          () => this.post({ type: 'setConnectorSecret', name: row.name }),
        ),
      );
    }
    item.append(actions);
    return item;
  }

  private button(text: string, label: string, focusKey: string, onClick: () => void): HTMLElement {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'secondary';
    b.textContent = text;
    b.dataset.focusKey = focusKey;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }
}
