/** The durable step's lines in the report, and its targets (issue 14): Keel <= LangGraph as shipped, stop <= 2 s. */
import type { DurableStepResult, Figure } from './measure/durableStep';
import type { Target } from './report';

export function durableTargets(d: DurableStepResult): Target[] {
  const ratio = d.langgraph.ratio?.median ?? null;
  const targets: Target[] = [
    {
      name: 'durable step through the daemon / LangGraph + SqliteSaver as shipped (median ratio)',
      value: ratio,
      limit: 1,
      unit: 'x',
      kind: 'max',
      pass: ratio !== null && ratio <= 1,
    },
  ];
  if (d.stop) {
    targets.push({
      name: `daemon stop after ${d.stop.afterRuns} runs`,
      value: d.stop.ms,
      limit: 2_000,
      unit: 'ms',
      kind: 'max',
      pass: d.stop.ms <= 2_000 && !d.stop.killed,
    });
  }
  return targets;
}

export function durableSection(d: DurableStepResult): string[] {
  const line = (label: string, f: Figure): string => {
    const ratio = f.ratio
      ? `Keel x${f.ratio.median.toFixed(2)} (${f.ratio.min.toFixed(2)}-${f.ratio.max.toFixed(2)})`
      : '';
    return `  ${label.padEnd(40)} ${f.medianMs.toFixed(3)} ms/step (${f.minMs.toFixed(3)}-${f.maxMs.toFixed(3)})   ${ratio}`;
  };
  const lines = [
    `Durable step (${d.steps} no-op llm steps per run, ${d.runsPerRound} runs per contender in each of ${d.rounds} interleaved rounds; median (lowest-highest round))`,
    line('Keel, run started over the socket', d.keel),
    line('LangGraph + SqliteSaver as shipped', d.langgraph),
    line('LangGraph + SqliteSaver, synchronous=FULL', d.langgraphFull),
    line('1 KB append + fdatasync (floor)', d.fsyncFloor),
    ...(d.baseline ? [line('Keel, the saved build (--durable-baseline-cli)', d.baseline)] : []),
    ...(d.baselineToLanggraph
      ? [
          `  the saved build / LangGraph as shipped   x${d.baselineToLanggraph.median.toFixed(2)} (${d.baselineToLanggraph.min.toFixed(2)}-${d.baselineToLanggraph.max.toFixed(2)})`,
        ]
      : []),
    line("Keel daemon's CPU per step", d.cpu.keel),
    ...(d.cpu.baseline ? [line("the saved build's CPU per step", d.cpu.baseline)] : []),
    `  load average at each round               ${d.load.perRound.join(', ')} (${d.load.cpus} cores)`,
  ];
  if (d.stop) {
    lines.push(
      `  daemon stop after ${d.stop.afterRuns} runs                ${d.stop.ms} ms${d.stop.killed ? ' (killed: it hung)' : ''}   (the runs took ${(d.stop.runsMs / 1000).toFixed(1)} s)`,
    );
  }
  lines.push('');
  return lines;
}
