/**
 * The first-run walkthrough (Get started with Keel): its steps in the order an operator takes
 * them, each page shipped, and every button and completion event naming a command that exists, so
 * no step is a dead link.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const extension = join(__dirname, '..', '..', 'extension');
const manifest = JSON.parse(readFileSync(join(extension, 'package.json'), 'utf8')) as {
  contributes: {
    commands: { command: string }[];
    views: Record<string, { id: string }[]>;
    walkthroughs: {
      id: string;
      steps: { id: string; description: string; media: { markdown: string }; completionEvents: string[] }[];
    }[];
  };
};
const walkthrough = manifest.contributes.walkthroughs.find((w) => w.id === 'keel.firstRun')!;
const ours = new Set(manifest.contributes.commands.map((c) => c.command));
// VS Code's own: a view's focus command exists for every contributed view.
const views = Object.values(manifest.contributes.views).flat();
const builtIn = new Set(['workbench.action.files.openFolder', ...views.map((v) => `${v.id}.focus`)]);

it('walks from the demo to a decided approval, in order', () => {
  expect(walkthrough.steps.map((s) => s.id)).toEqual(['open-demo', 'trust', 'model', 'run', 'approve']);
});

it('ships a page for every step', () => {
  for (const step of walkthrough.steps) {
    const page = join(extension, step.media.markdown);
    expect(existsSync(page), page).toBe(true);
    expect(readFileSync(page, 'utf8')).toMatch(/^# /);
  }
});

it('names only commands that exist, in its buttons and its completion events', () => {
  for (const step of walkthrough.steps) {
    const buttons = [...step.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]!);
    expect(buttons.length, step.id).toBeGreaterThan(0);
    for (const command of buttons) expect(ours.has(command) || builtIn.has(command), command).toBe(true);
    for (const event of step.completionEvents) {
      const command = /^onCommand:(.+)$/.exec(event)?.[1];
      if (command) expect(ours.has(command), event).toBe(true);
    }
  }
});
