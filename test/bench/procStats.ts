/**
 * What Linux says about the daemon's process: resident memory (VmRSS now, VmHWM its peak) and CPU
 * time. Read from /proc because that is what the operator's `top` shows, including the memory of
 * LanceDB's and DuckDB's native code, which process.memoryUsage() inside Node would not attribute.
 */
import { readFileSync } from 'node:fs';

export interface MemorySample {
  rssMb: number;
  peakRssMb: number;
}

export function readMemory(pid: number): MemorySample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return null; // The process has exited.
  }
}

/** User + system CPU seconds the process has used so far (clock ticks are 1/100 s on Linux). */
export function readCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Samples the RSS every `everyMs` and remembers the largest value seen. */
export class RssSampler {
  maxRssMb = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): MemorySample | null {
    const sample = readMemory(this.pid);
    if (sample) this.maxRssMb = Math.max(this.maxRssMb, sample.rssMb);
    return sample;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
