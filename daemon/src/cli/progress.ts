/**
 * One line of progress on a terminal, rewritten in place; on anything else (a pipe, a CI log) a
 * line at most every few seconds, so logs stay readable.
 */
export class ProgressLine {
  private lastText = '';
  private lastPrintedAt = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(text: string | null): void {
    if (text === null || text === this.lastText) return;
    this.lastText = text;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[K${text}`);
      this.shown = true;
    } else if (Date.now() - this.lastPrintedAt > 2_000) {
      this.stream.write(`${text}\n`);
      this.lastPrintedAt = Date.now();
    }
  }

  done(): void {
    if (this.shown && this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
