/**
 * An export file of the workspace (CSV or a JSON list of objects) as rows: read through the one
 * path module (contained, no symlink followed, a regular file), never from Keel's `.keel/` state,
 * and capped in size before it is read (the opened file's size, then a bounded read).
 */
import {
  FileTooLargeError,
  readInside,
  workspaceRelative,
  isKeelState,
  WorkspacePathError,
} from '../files/workspacePaths';
import { AnalyticsShapeError } from './columns';

/** Bytes of an export file read at most. */
export const MAX_EXPORT_BYTES = 50 * 1024 * 1024;

export async function readExportRows(workspace: string, path: string): Promise<Record<string, unknown>[]> {
  const relative = workspaceRelative(path);
  if (isKeelState(relative)) {
    throw new WorkspacePathError(
      path,
      "it is Keel's own state",
      'Import an export file of the workspace, such as exports/visits.csv.',
    );
  }
  const format = relative.toLowerCase().endsWith('.csv')
    ? 'csv'
    : relative.toLowerCase().endsWith('.json')
      ? 'json'
      : null;
  if (!format) {
    throw new AnalyticsShapeError(`${relative}: an import reads .csv or .json files`);
  }
  // The size is checked on the opened file before reading: a huge export is refused, not loaded.
  const content = await readInside(workspace, relative, MAX_EXPORT_BYTES).catch((error: unknown) => {
    if (!(error instanceof FileTooLargeError)) throw error;
    throw new AnalyticsShapeError(
      `${relative} is larger than ${MAX_EXPORT_BYTES / 1024 / 1024} MB: split the export into smaller files`,
    );
  });
  if (content === null) throw new AnalyticsShapeError(`${relative} does not exist`);
  const text = content.toString('utf8');
  if (format === 'csv') return parseCsv(text);
  try {
    return JSON.parse(text) as Record<string, unknown>[];
  } catch (error) {
    throw new AnalyticsShapeError(`${relative} is not JSON: ${(error as Error).message}`);
  }
}

/**
 * RFC 4180 CSV with a header line: quoted fields may hold commas, quotes ("") and line breaks.
 * Numbers and true/false become values of their kind; an empty field is null.
 */
export function parseCsv(text: string): Record<string, unknown>[] {
  const records = csvRecords(text.replace(/^\uFEFF/, ''));
  const header = records.shift() ?? [];
  return records
    .filter((fields) => fields.length > 1 || fields[0] !== '')
    .map((fields) =>
      Object.fromEntries(header.map((name, index) => [name.trim(), csvValue(fields[index] ?? '')])),
    );
}

function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  const endField = (): void => {
    fields.push(field);
    field = '';
  };
  const endRecord = (): void => {
    endField();
    records.push(fields);
    fields = [];
  };
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inQuotes) {
      if (char !== '"') field += char;
      else if (text[index + 1] === '"') {
        field += '"';
        index++;
      } else inQuotes = false;
    } else if (char === '"') inQuotes = true;
    else if (char === ',') endField();
    else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index++;
      endRecord();
    } else field += char;
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}

function csvValue(field: string): unknown {
  if (field === '') return null;
  if (field === 'true' || field === 'false') return field === 'true';
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(field)) {
    const number = Number(field);
    if (Number.isFinite(number) && (!Number.isInteger(number) || Number.isSafeInteger(number))) return number;
  }
  return field;
}
