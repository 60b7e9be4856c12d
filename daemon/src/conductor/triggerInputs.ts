/** A trigger's `inputs:` rendered into a run's inputs: templates read `trigger.*`, values stay as they are. */
import { renderTemplate, renderText, type Scope } from './templates';
import type { InputValues } from './runInputs';

export async function renderInputs(
  templates: Record<string, string | number | boolean>,
  scope: Scope,
): Promise<InputValues> {
  const inputs: InputValues = {};
  for (const [name, template] of Object.entries(templates)) {
    if (typeof template !== 'string') {
      inputs[name] = template;
      continue;
    }
    const value = await renderTemplate(template, scope);
    inputs[name] =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
        ? value
        : await renderText(template, scope);
  }
  return inputs;
}
