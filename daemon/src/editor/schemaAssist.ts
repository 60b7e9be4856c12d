/**
 * Completion and hover for a YAML document from its JSON Schema: the keys valid where the cursor
 * is (not those already there), the values of enums and constants, and a key's description and type.
 */
import {
  CompletionItemKind,
  MarkupKind,
  type CompletionItem,
  type Hover,
  type Position,
} from 'vscode-languageserver/node';
import { parse as parseYaml } from 'yaml';
import type { JsonSchema } from '@keel/schemas';
import { propertySchema, SchemaNavigator } from './schemaNavigator';
import { cursorContext, keyAt, valueAt, type KeyContext, type ValueContext } from './yamlCursor';

type PositionAt = (offset: number) => Position;

export class SchemaAssist {
  private readonly navigator: SchemaNavigator;

  constructor(schema: JsonSchema) {
    this.navigator = new SchemaNavigator(schema);
  }

  complete(text: string, offset: number, positionAt: PositionAt): CompletionItem[] {
    const context = cursorContext(text, offset);
    if (!context) return [];
    const range = { start: positionAt(context.word.start), end: positionAt(context.word.end) };
    const items = context.kind === 'key' ? this.keyItems(context) : this.valueItems(context);
    return items.map(({ label, insert, ...rest }) => ({
      label,
      ...rest,
      textEdit: { range, newText: insert },
    }));
  }

  hover(text: string, offset: number, positionAt: PositionAt): Hover | null {
    const found = keyAt(text, offset);
    const key = found?.path.at(-1);
    if (!found || typeof key !== 'string') return null;
    const objects = this.navigator.objectsAt(found.path.slice(0, -1), found.document);
    const property = objects.map((object) => propertySchema(object, key)).find((p) => p !== undefined);
    if (property === undefined) return null;
    const resolved = this.navigator.resolve(property);
    const lines = [`**${key}**: \`${this.navigator.typeLabel(property)}\``];
    if (resolved?.description) lines.push(resolved.description);
    if (resolved?.default !== undefined) lines.push(`Default: \`${JSON.stringify(resolved.default)}\``);
    return {
      contents: { kind: MarkupKind.Markdown, value: lines.join('\n\n') },
      range: { start: positionAt(found.span.start), end: positionAt(found.span.end) },
    };
  }

  private keyItems(context: KeyContext): Suggestion[] {
    const objects = this.navigator.objectsAt(context.mapPath, context.document);
    if (objects.length === 0 && context.startsItem) {
      // `- mem|` in a list of plain values: the item is a value, not a key.
      const siblings = valueAt(context.document, context.mapPath.slice(0, -1));
      const taken = Array.isArray(siblings) ? siblings : [];
      const schemas = this.navigator.schemasAt(context.mapPath, context.document);
      return this.valueSuggestions(schemas.map((schema) => ({ schema }))).filter(
        (item) => !taken.includes(item.value),
      );
    }
    const present = valueAt(context.document, context.mapPath);
    const taken = new Set(present && typeof present === 'object' ? Object.keys(present) : []);
    return commonKeys(objects)
      .filter((key) => !taken.has(key))
      .map((key) => {
        const properties = objects.map((object) => this.navigator.resolve(propertySchema(object, key)));
        const property = properties.find((p) => p?.description) ?? properties[0];
        const labels = properties.map((p) => this.navigator.typeLabel(p ?? undefined));
        const required = objects.every((object) => object.required?.includes(key));
        return {
          label: key,
          kind: CompletionItemKind.Property,
          detail: [...new Set(labels)].join(' | '),
          documentation: markdown(property?.description),
          sortText: `${required ? 0 : 1}${key}`,
          insert: context.colonFollows ? key : `${key}: `,
        };
      });
  }

  private valueItems(context: ValueContext): Suggestion[] {
    const objects = this.navigator.objectsAt(context.mapPath, context.document);
    return this.valueSuggestions(
      objects.flatMap((object) => {
        const property = propertySchema(object, context.key);
        if (property === undefined) return [];
        // A discriminator's values are told apart by the shape they select (a step's `type`).
        const owner = objects.length > 1 ? object.description : undefined;
        return this.navigator.alternatives(property).map((schema) => ({ schema, owner }));
      }),
    );
  }

  private valueSuggestions(candidates: { schema: JsonSchema; owner?: string }[]): Suggestion[] {
    const seen = new Set<unknown>();
    const items: Suggestion[] = [];
    for (const { schema, owner } of candidates) {
      const values =
        schema.const !== undefined
          ? [schema.const]
          : (schema.enum ?? (schema.type === 'boolean' ? [true, false] : []));
      for (const value of values) {
        if (seen.has(value)) continue;
        seen.add(value);
        items.push({
          label: String(value),
          value,
          kind: CompletionItemKind.EnumMember,
          documentation: markdown(schema.description ?? owner),
          insert: yamlScalar(value),
        });
      }
    }
    return items;
  }
}

interface Suggestion extends Omit<CompletionItem, 'textEdit'> {
  insert: string;
  value?: unknown;
}

/** Keys every shape has: where a union is not narrowed yet (no `type:`), what all its members share. */
function commonKeys(objects: JsonSchema[]): string[] {
  const [first, ...rest] = objects;
  if (!first) return [];
  return Object.keys(first.properties ?? {}).filter((key) =>
    rest.every((object) => object.properties?.[key] !== undefined),
  );
}

function markdown(text: string | undefined): CompletionItem['documentation'] {
  return text ? { kind: MarkupKind.Markdown, value: text } : undefined;
}

/** The value as YAML text: plain when it reads back the same, quoted otherwise. */
function yamlScalar(value: unknown): string {
  const plain = String(value);
  try {
    if (parseYaml(plain) === value) return plain;
  } catch {
    // Not valid as a plain scalar: quote it.
  }
  return JSON.stringify(plain);
}
