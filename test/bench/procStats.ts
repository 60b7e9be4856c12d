/**
 * What Linux says about the daemon's process: resident memory (VmRSS now, VmHWM its peak) and CPU
 * time. Read from /proc because that is what the operator's `top` shows, including the memory of
 * LanceDB's and DuckDB's native code, which process.memoryUsage() inside Node would not attribute.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface MemorySample {
  rssMb: number;
  peakRssMb: number;
  /** Of rssMb: anonymous memory (heaps, caches), and file pages mapped in (code, mmapped data). */
  anonMb: number;
  fileMb: number;
}

export function readMemory(pid: number): MemorySample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      rssMb: kb('VmRSS') / 1024,
      peakRssMb: kb('VmHWM') / 1024,
      anonMb: kb('RssAnon') / 1024,
      fileMb: (kb('RssFile') + kb('RssShmem')) / 1024,
    };
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

/** Busy and total CPU time of the whole machine so far, in clock ticks, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * How much of the machine other processes used during each phase, in cores: this machine is
 * shared, and on two cores another process's build or test run shows up directly in latencies.
 * "Other" is the machine's busy time minus the daemon's and this benchmark's own.
 */
export class LoadMonitor {
  private mark = this.snapshot();

  constructor(
    private readonly cores: number,
    private daemonPid: number | null = null,
  ) {}

  watchDaemon(pid: number): void {
    this.daemonPid = pid;
    this.mark = this.snapshot();
  }

  /** Cores used since the last call: by the daemon, by this process, by everything else. */
  phase(): { daemonCores: number; benchCores: number; otherCores: number } {
    const now = this.snapshot();
    const ticks = now.total - this.mark.total || 1;
    const seconds = ticks / this.cores / 100;
    const busyCores = ((now.busy - this.mark.busy) / ticks) * this.cores;
    const daemonCores = (now.daemonCpu - this.mark.daemonCpu) / seconds;
    const benchCores = (now.benchCpu - this.mark.benchCpu) / seconds;
    this.mark = now;
    const round2 = (value: number): number => Math.round(Math.max(0, value) * 100) / 100;
    return {
      daemonCores: round2(daemonCores),
      benchCores: round2(benchCores),
      otherCores: round2(busyCores - daemonCores - benchCores),
    };
  }

  private snapshot(): { busy: number; total: number; daemonCpu: number; benchCpu: number } {
    const usage = process.cpuUsage();
    return {
      ...machineTicks(),
      daemonCpu: this.daemonPid === null ? 0 : (readCpuSeconds(this.daemonPid) ?? 0),
      benchCpu: (usage.user + usage.system) / 1e6,
    };
  }
}

/** The process's open file descriptors (files, sockets, pipes), or 0 once it has exited. */
export function countOpenFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Samples the open file count every `everyMs`; remembers the largest since the last reset. */
export class FdSampler {
  max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): number {
    const count = countOpenFiles(this.pid);
    this.max = Math.max(this.max, count);
    return count;
  }

  reset(): void {
    this.max = this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
