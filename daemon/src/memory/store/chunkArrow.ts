/**
 * Chunk rows as one Arrow table in the chunk table's schema, built column by column. Handing
 * LanceDB plain objects makes it infer a schema from every row and convert every value through
 * Arrow's builders (each vector one float at a time): in a CPU profile of a cold index at 20,000
 * chunks that was the daemon's largest cost on its main thread (1.8 s of 9.9 s busy). An Arrow
 * table goes to LanceDB as it is.
 */
import type { Data, DataType, Schema, Table, Utf8 as Utf8Type } from 'apache-arrow';
import { lance } from './lanceModules';
import type { ChunkRow } from './chunkIndex';

type Column = (rows: (ChunkRow & { seq?: number })[]) => Data;

/**
 * The table of `rows` in `schema`: the chunk table's (chunkIndex.ts), or the small table's, whose
 * rows also carry the write's `seq` (recentChunks.ts).
 */
export function chunkTable(rows: (ChunkRow & { seq?: number })[], schema: Schema): Table {
  const { makeData, RecordBatch, Struct, Table } = lance().arrow;
  const columns: Record<string, Column> = {
    id: (r) => utf8(r.map((row) => row.id)),
    path: (r) => utf8(r.map((row) => row.path)),
    chunk: (r) => int32(r.map((row) => row.chunk)),
    start_line: (r) => int32(r.map((row) => row.start_line)),
    end_line: (r) => int32(r.map((row) => row.end_line)),
    heading: (r) => utf8(r.map((row) => row.heading)),
    text: (r) => utf8(r.map((row) => row.text)),
    search_text: (r) => utf8(r.map((row) => row.search_text)),
    type: (r) => utf8(r.map((row) => row.type)),
    tags: (r) => utf8List(r.map((row) => row.tags)),
    date: (r) => utf8(r.map((row) => row.date)),
    review_by: (r) => utf8(r.map((row) => row.review_by)),
    mentions: (r) => utf8List(r.map((row) => row.mentions)),
    vector: (r) => vectors(r.map((row) => row.vector)),
    seq: (r) =>
      int32(
        r.map((row) => {
          if (row.seq === undefined) throw new Error(`chunk ${row.id} has no seq for the small table`);
          return row.seq;
        }),
      ),
  };
  const children = schema.fields.map((field) => {
    const column = columns[field.name];
    if (!column) throw new Error(`no chunk column for the table's field ${field.name}`);
    return retyped(column(rows), field.type as DataType);
  });
  const struct = makeData({
    type: new Struct(schema.fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new Table([new RecordBatch(schema, struct)]);
}

/** The column's data under the field's own type object (the same type, as the schema holds it). */
function retyped(data: Data, type: DataType): Data {
  return data.clone(type);
}

function int32(values: number[]): Data {
  const { Int32, makeData } = lance().arrow;
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: Int32Array.from(values) });
}

/** UTF-8 strings (null where a value is null), their bytes written once into one buffer. */
function utf8(values: (string | null)[]): Data<Utf8Type> {
  const { makeData, Utf8 } = lance().arrow;
  const offsets = new Int32Array(values.length + 1);
  let bytes = 0;
  let nulls = 0;
  for (const value of values) {
    if (value === null) nulls++;
    else bytes += Buffer.byteLength(value, 'utf8');
  }
  const data = Buffer.allocUnsafe(bytes);
  let at = 0;
  values.forEach((value, i) => {
    if (value !== null) at += data.write(value, at, 'utf8');
    offsets[i + 1] = at;
  });
  return makeData({
    type: new Utf8(),
    length: values.length,
    nullCount: nulls,
    nullBitmap: nulls > 0 ? validity(values) : null,
    valueOffsets: offsets,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

/** Lists of strings (never null, items never null). */
function utf8List(lists: string[][]): Data {
  const { Field, List, makeData, Utf8 } = lance().arrow;
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((list, i) => (offsets[i + 1] = offsets[i]! + list.length));
  return makeData({
    type: new List(new Field('item', new Utf8(), true)),
    length: lists.length,
    nullCount: 0,
    valueOffsets: offsets,
    child: utf8(lists.flat()),
  });
}

/** Fixed-size vectors, copied once into one Float32Array. */
function vectors(values: Float32Array[]): Data {
  const { Field, FixedSizeList, Float32, makeData } = lance().arrow;
  const size = values[0]?.length ?? 0;
  const flat = new Float32Array(values.length * size);
  values.forEach((vector, i) => {
    if (vector.length !== size) throw new Error(`a vector of ${vector.length} values among ${size}`);
    flat.set(vector, i * size);
  });
  return makeData({
    type: new FixedSizeList(size, new Field('item', new Float32(), true)),
    length: values.length,
    nullCount: 0,
    child: makeData({ type: new Float32(), length: flat.length, nullCount: 0, data: flat }),
  });
}

/** Arrow's validity bitmap: bit i set when value i is not null. */
function validity(values: unknown[]): Uint8Array {
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((value, i) => {
    if (value !== null) bitmap[i >> 3]! |= 1 << (i & 7);
  });
  return bitmap;
}
