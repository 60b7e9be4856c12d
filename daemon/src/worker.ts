/**
 * The daemon's worker thread (dist/worker.js): parses and embeds notes and renders templates, so
 * that slow or hostile input never blocks the main thread. See runtime/workerThread.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { collectGarbage } from './runtime/collectGarbage';
import { renderDeep, renderTemplate, renderText, evaluateCondition } from './conductor/expressions';
import { createLocalEmbedder, useSharedWordTable } from './memory/embed/local';
import { parseFile } from './memory/parse/index';
import { searchTextOf } from './memory/searchText';
import type {
  PreparedFile,
  WorkerData,
  WorkerRequest,
  WorkerResponse,
  WorkerTasks,
} from './runtime/workerTasks';

const given = workerData as WorkerData | undefined;
if (given?.wordTable) useSharedWordTable(given.wordTable);

async function prepareFile(path: string, content: string, embed: boolean): Promise<PreparedFile> {
  const parsed = parseFile(path, content);
  if (!parsed.ok) return { parsed, searchTexts: [], vectors: null };
  const searchTexts = parsed.file.chunks.map((chunk) => searchTextOf(parsed.file.frontmatter, chunk));
  const vectors = embed ? await (await createLocalEmbedder()).embedDocuments(searchTexts) : null;
  return { parsed, searchTexts, vectors };
}

function render({ template, scope, mode }: WorkerTasks['render']['input']): unknown {
  switch (mode) {
    case 'value':
      return renderTemplate(String(template), scope);
    case 'text':
      return renderText(String(template), scope);
    case 'deep':
      return renderDeep(template, scope);
    case 'condition':
      return evaluateCondition(String(template), scope);
  }
}

async function perform(request: WorkerRequest): Promise<unknown> {
  switch (request.task) {
    case 'prepareFiles': {
      const { files, embed } = request.input;
      const prepared: PreparedFile[] = [];
      for (const file of files) prepared.push(await prepareFile(file.path, file.content, embed));
      return prepared;
    }
    case 'render':
      return render(request.input);
    case 'collectGarbage':
      return collectGarbage();
  }
}

const port = parentPort;
port?.on('message', (request: WorkerRequest) => {
  perform(request).then(
    (output) => port.postMessage({ id: request.id, ok: true, output } satisfies WorkerResponse),
    (error: unknown) =>
      port.postMessage({
        id: request.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      } satisfies WorkerResponse),
  );
});
port?.postMessage({ ready: true } satisfies WorkerResponse);
