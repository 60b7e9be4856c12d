/**
 * Just enough of a DOM for a webview script's drawing functions to run in Node: elements, text,
 * attributes, dataset, events and `details.open`. It has no HTML parser on purpose: setting
 * innerHTML or outerHTML, or calling insertAdjacentHTML, throws, so a test that draws untrusted
 * text through it proves the text went in as text.
 */

export class FakeText {
  constructor(public data: string) {}
  get textContent(): string {
    return this.data;
  }
}

export class FakeElement {
  readonly tagName: string;
  className = '';
  type = '';
  open = false;
  disabled = false;
  readonly childNodes: (FakeElement | FakeText)[] = [];
  readonly attributes = new Map<string, string>();
  readonly dataset: Record<string, string> = {};
  private readonly listeners = new Map<string, (() => void)[]>();

  constructor(tag: string) {
    this.tagName = tag.toUpperCase();
  }

  get children(): FakeElement[] {
    return this.childNodes.filter((n): n is FakeElement => n instanceof FakeElement);
  }

  get textContent(): string {
    return this.childNodes.map((n) => n.textContent).join('');
  }

  set textContent(text: string) {
    this.childNodes.splice(0, this.childNodes.length, new FakeText(text));
  }

  set innerHTML(_html: string) {
    throw new Error('innerHTML parses HTML: untrusted text must go in as text');
  }

  set outerHTML(_html: string) {
    throw new Error('outerHTML parses HTML: untrusted text must go in as text');
  }

  insertAdjacentHTML(): never {
    throw new Error('insertAdjacentHTML parses HTML: untrusted text must go in as text');
  }

  append(...nodes: (FakeElement | FakeText | string)[]): void {
    for (const node of nodes) this.childNodes.push(typeof node === 'string' ? new FakeText(node) : node);
  }

  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }

  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }

  addEventListener(type: string, listener: () => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  dispatch(type: string): void {
    for (const listener of this.listeners.get(type) ?? []) listener();
  }

  click(): void {
    this.dispatch('click');
  }

  /** Every element below this one, depth first. */
  descendants(): FakeElement[] {
    return this.children.flatMap((child) => [child, ...child.descendants()]);
  }

  /** The elements below whose class list has every one of `classes`. */
  byClass(...classes: string[]): FakeElement[] {
    return this.descendants().filter((e) => classes.every((c) => e.className.split(' ').includes(c)));
  }
}

/** Installs the fake as the global `document` (for `element()` and the like); returns the undo. */
export function installFakeDocument(): () => void {
  const previous = (globalThis as { document?: unknown }).document;
  (globalThis as { document?: unknown }).document = {
    createElement: (tag: string) => new FakeElement(tag),
  };
  return () => {
    (globalThis as { document?: unknown }).document = previous;
  };
}
