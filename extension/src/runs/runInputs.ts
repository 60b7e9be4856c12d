/**
 * Asks a runbook's declared inputs, one prompt each, with VS Code's quick input: enums as a pick,
 * booleans as Yes/No, numbers checked as they are typed, defaults prefilled. Esc at any prompt
 * cancels the whole run before it starts.
 */
import * as vscode from 'vscode';
import type { RunbookInfo, RunbookInputInfo } from '@keel/schemas';
import { defaultText, inputPrompt, parseInputText, type InputValue } from './inputValues';

/**
 * The values to start the run with, or undefined when the operator pressed Esc. `note` (the cost
 * forecast) follows the title of every prompt, so it is in view before the operator confirms.
 */
export async function askRunInputs(
  runbook: RunbookInfo,
  note: string | null = null,
): Promise<Record<string, InputValue> | undefined> {
  const values: Record<string, InputValue> = {};
  const total = runbook.inputs.length;
  for (const [index, input] of runbook.inputs.entries()) {
    const title = `Run ${runbook.name}: ${input.name}${note ? ` — ${note}` : ''}`;
    const step = { title, step: index + 1, totalSteps: total };
    const answer = input.enum || input.type === 'boolean' ? await pick(input, step) : await type(input, step);
    if (answer === CANCELLED) return undefined;
    if (answer !== undefined) values[input.name] = answer;
  }
  return values;
}

const CANCELLED = Symbol('cancelled');
type Answer = InputValue | undefined | typeof CANCELLED;

interface Step {
  title: string;
  step: number;
  totalSteps: number;
}

function type(input: RunbookInputInfo, step: Step): Promise<Answer> {
  const box = vscode.window.createInputBox();
  Object.assign(box, step);
  box.prompt = inputPrompt(input);
  box.value = defaultText(input);
  box.placeholder = input.required ? `${input.name} (required)` : `${input.name} (optional)`;
  box.ignoreFocusOut = true;
  const check = (text: string): ReturnType<typeof parseInputText> => {
    const parsed = parseInputText(input, text);
    box.validationMessage = parsed.ok ? undefined : parsed.message;
    return parsed;
  };
  if (box.value !== '') check(box.value);
  return new Promise<Answer>((resolve) => {
    let answer: Answer = CANCELLED;
    box.onDidChangeValue(check);
    box.onDidAccept(() => {
      const parsed = check(box.value);
      if (!parsed.ok) return;
      answer = parsed.value;
      box.hide();
    });
    box.onDidHide(() => {
      box.dispose();
      resolve(answer);
    });
    box.show();
  });
}

interface ChoiceItem extends vscode.QuickPickItem {
  value: InputValue | undefined;
}

function pick(input: RunbookInputInfo, step: Step): Promise<Answer> {
  const quickPick = vscode.window.createQuickPick<ChoiceItem>();
  Object.assign(quickPick, step);
  quickPick.placeholder = inputPrompt(input);
  quickPick.ignoreFocusOut = true;
  const choices: ChoiceItem[] =
    input.type === 'boolean'
      ? [
          { label: 'Yes', value: true },
          { label: 'No', value: false },
        ]
      : (input.enum ?? []).map((value) => ({ label: String(value), value }));
  if (!input.required) choices.push({ label: 'Leave unset', value: undefined });
  for (const choice of choices) {
    if (input.default !== null && choice.value === input.default) choice.description = 'default';
  }
  quickPick.items = choices;
  const preferred = choices.find((c) => c.value === input.default);
  if (preferred) quickPick.activeItems = [preferred];
  return new Promise<Answer>((resolve) => {
    let answer: Answer = CANCELLED;
    quickPick.onDidAccept(() => {
      const chosen = quickPick.selectedItems[0] ?? quickPick.activeItems[0];
      if (!chosen) return;
      answer = chosen.value;
      quickPick.hide();
    });
    quickPick.onDidHide(() => {
      quickPick.dispose();
      resolve(answer);
    });
    quickPick.show();
  });
}
