/**
 * Watchers hear of a run's steps at most every PROGRESS_MS, the latest state last, and of every
 * other change at once (issue 14: a notification per record cost a run of quick steps dearly).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PROGRESS_MS, RunProgress } from '../../daemon/src/conductor/runProgress';

/** A RunProgress whose tells are counted, and published as the conductor publishes them. */
function counted(): { progress: RunProgress; told: string[] } {
  const told: string[] = [];
  const progress: RunProgress = new RunProgress((id) => {
    told.push(id);
    progress.published(id, false);
  });
  return { progress, told };
}

describe('RunProgress', () => {
  it('tells a burst of step records once now and once more with the latest, not per record', async () => {
    const { progress, told } = counted();
    for (let i = 0; i < 10; i++) {
      progress.recorded('r1', 'stepStart');
      progress.recorded('r1', 'modelCall');
      progress.recorded('r1', 'stepEnd');
    }
    expect(told).toEqual(['r1']);
    await sleep(PROGRESS_MS * 2);
    expect(told).toEqual(['r1', 'r1']);
  });

  it('tells any other change at once, and each run on its own', () => {
    const { progress, told } = counted();
    progress.recorded('r1', 'stepEnd');
    progress.recorded('r2', 'stepStart');
    progress.recorded('r1', 'waiting');
    progress.recorded('r1', 'runEnd');
    expect(told).toEqual(['r1', 'r2', 'r1', 'r1']);
  });

  it('drops the trailing tell once the run was published another way (its end)', async () => {
    const { progress, told } = counted();
    progress.recorded('r1', 'stepStart');
    progress.recorded('r1', 'stepEnd');
    progress.published('r1', true);
    await sleep(PROGRESS_MS * 2);
    expect(told).toEqual(['r1']);
  });
});
