/**
 * Summarizes a V8 CPU profile (`.cpuprofile`, as `node --cpu-prof` writes on exit) by self time:
 * the top functions, and the time per source (a bundle's module paths are not kept, so the
 * daemon's own code shows as `dist/cli.main.js`; native calls as `(program)` or `(garbage collector)`).
 *
 *   npm run bench -- --daemon-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" --skip-restart
 *   npx tsx test/bench/profile/cpuProfileTop.ts /tmp/prof/CPU.*.cpuprofile
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function summarize(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const bySource = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    totalUs += us;
    const source = sourceOf(frame.url, frame.functionName);
    const name = `${frame.functionName || '(anonymous)'} ${source}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    bySource.set(source, (bySource.get(source) ?? 0) + us);
  });
  const rows = (map: Map<string, number>, count: number): string[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(
        ([name, us]) =>
          `  ${(us / 1000).toFixed(0).padStart(8)} ms ${((us / totalUs) * 100).toFixed(1).padStart(5)} %  ${name}`,
      );
  return [
    `${file}: ${(totalUs / 1e6).toFixed(1)} s of samples`,
    'By source (self time):',
    ...rows(bySource, 15),
    `Top ${top} functions (self time):`,
    ...rows(byFunction, top),
  ].join('\n');
}

/** `node_modules/markdown-it/...` as `markdown-it`, the daemon's bundle as `dist/cli.js`. */
function sourceOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return url;
  return url.split('/').slice(-2).join('/');
}

for (const file of process.argv.slice(2)) process.stdout.write(summarize(file) + '\n\n');
