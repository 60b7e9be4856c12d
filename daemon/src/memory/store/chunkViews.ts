/**
 * What a search shows of its chunks, read from LanceDB's Arrow answer column by column, straight
 * from the columns' buffers. Arrow's rows (`toArray()`) look up a visitor for every value they
 * hand out: for the 300-odd rows a search reads at 100,000 chunks (both ranked lists and the
 * neighbours' chunks) that took 3-4 ms of the main thread per search, more than the fusion and
 * every prior together. A column in a layout other than the plain ones below (a dictionary, say)
 * is read through Arrow's own `get`, slower but the same.
 */
import type { Data, RecordBatch, Table } from 'apache-arrow';
import type { ChunkView } from './chunkIndex';

/** A chunk view and the value of one more column of its row (a distance or a score). */
export interface ScoredView {
  view: ChunkView;
  value: number;
}

/** The rows of `table` as chunk views, each with the number in column `extra` (NaN without one). */
export function chunkViews(table: Table, extra: string | null = null): ScoredView[] {
  const out: ScoredView[] = [];
  for (const batch of table.batches) {
    const text = (name: string): Column<string> => stringsOf(batch, name);
    const id = text('id');
    const path = text('path');
    const chunk = numbersOf(batch, 'chunk');
    const startLine = numbersOf(batch, 'start_line');
    const endLine = numbersOf(batch, 'end_line');
    const heading = text('heading');
    const body = text('text');
    const type = text('type');
    const tags = listsOf(batch, 'tags');
    const date = text('date');
    const reviewBy = text('review_by');
    const mentions = listsOf(batch, 'mentions');
    const value = extra === null ? () => Number.NaN : numbersOf(batch, extra);
    for (let row = 0; row < batch.numRows; row++) {
      out.push({
        view: {
          id: id(row) ?? '',
          path: path(row) ?? '',
          chunk: chunk(row) ?? 0,
          start_line: startLine(row) ?? 0,
          end_line: endLine(row) ?? 0,
          heading: heading(row) ?? '',
          text: body(row) ?? '',
          type: type(row),
          tags: tags(row),
          date: date(row),
          review_by: reviewBy(row),
          mentions: mentions(row),
        },
        value: value(row) ?? Number.NaN,
      });
    }
  }
  return out;
}

type Column<T> = (row: number) => T | null;

/** The column's one chunk of data in this batch; an error naming it when the answer lacks it. */
function dataOf(batch: RecordBatch, name: string): Data {
  const index = batch.schema.fields.findIndex((field) => field.name === name);
  if (index < 0) throw new Error(`LanceDB's answer has no column ${name}`);
  return batch.data.children[index]!;
}

/** Arrow's own reading of a value: any layout, a visitor per value. */
function generic<T>(batch: RecordBatch, name: string): Column<T> {
  const vector = batch.getChild(name)!;
  return (row) => (vector.get(row) as T | null) ?? null;
}

function stringsOf(batch: RecordBatch, name: string): Column<string> {
  const data = dataOf(batch, name);
  return plainStrings(data) ?? generic<string>(batch, name);
}

/** UTF-8 strings with 32-bit offsets (Arrow's Utf8), or null for another layout. */
function plainStrings(data: Data): Column<string> | null {
  const { valueOffsets: offsets, values } = data as { valueOffsets?: unknown; values?: unknown };
  if (!(offsets instanceof Int32Array) || !(values instanceof Uint8Array) || data.dictionary) return null;
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const nullable = data.nullCount > 0;
  return (row) =>
    nullable && !data.getValid(row) ? null : bytes.toString('utf8', offsets[row], offsets[row + 1]);
}

function numbersOf(batch: RecordBatch, name: string): Column<number> {
  const data = dataOf(batch, name);
  const { values } = data as { values?: unknown };
  const plain =
    values instanceof Int32Array || values instanceof Float32Array || values instanceof Float64Array;
  if (!plain || data.dictionary) {
    const read = generic<number | bigint>(batch, name);
    return (row) => {
      const value = read(row);
      return value === null ? null : Number(value);
    };
  }
  const nullable = data.nullCount > 0;
  return (row) => (nullable && !data.getValid(row) ? null : values[row]!);
}

/** Lists of strings (tags, mentions): an empty list for a null one. */
function listsOf(batch: RecordBatch, name: string): (row: number) => string[] {
  const data = dataOf(batch, name);
  const { valueOffsets: offsets } = data as { valueOffsets?: unknown };
  const items = data.children[0] ? plainStrings(data.children[0]) : null;
  if (!(offsets instanceof Int32Array) || items === null) {
    const read = generic<{ toArray(): unknown[] }>(batch, name);
    return (row) => (read(row)?.toArray() ?? []).map(String);
  }
  const nullable = data.nullCount > 0;
  return (row) => {
    if (nullable && !data.getValid(row)) return [];
    const list: string[] = [];
    for (let item = offsets[row]!; item < offsets[row + 1]!; item++) list.push(items(item) ?? '');
    return list;
  };
}
