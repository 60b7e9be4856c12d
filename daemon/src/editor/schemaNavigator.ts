/**
 * Walks a JSON Schema (generated from the zod schemas) along a YAML path: which object shapes
 * apply at a place in a document, narrowed by discriminators such as a step's `type`, and how to
 * name a schema's type for people.
 */
import type { JsonSchema } from '@keel/schemas';
import { valueAt, type YamlPath } from './yamlCursor';

type Schema = JsonSchema;

export class SchemaNavigator {
  constructor(private readonly root: Schema) {}

  /** The object shapes that can apply to the map at `path`, given the document's values. */
  objectsAt(path: YamlPath, document: unknown): Schema[] {
    const map = valueAt(document, path);
    return this.schemasAt(path, document).flatMap((schema) => this.objectBranches(schema, map));
  }

  /** The schemas a value at `path` must satisfy (several where a union is not yet narrowed). */
  schemasAt(path: YamlPath, document: unknown): Schema[] {
    let schemas = [this.root];
    let value = document;
    for (const segment of path) {
      const parent = value;
      schemas = schemas.flatMap((schema) => this.children(schema, segment, parent));
      value = valueAt(parent, [segment]);
    }
    return schemas;
  }

  /** The alternatives of a schema: references followed and unions flattened. */
  alternatives(schema: Schema | boolean | undefined): Schema[] {
    const resolved = this.resolve(schema);
    if (!resolved) return [];
    const union = resolved.oneOf ?? resolved.anyOf;
    if (!union) return [resolved];
    return union.flatMap((branch) => this.alternatives(branch));
  }

  /** Object alternatives whose constant properties (discriminators) agree with `value`. */
  objectBranches(schema: Schema, value: unknown): Schema[] {
    return this.alternatives(schema).filter(
      (branch) => isObjectSchema(branch) && this.agreesWith(branch, value),
    );
  }

  /** How a schema reads in a hover or a completion's detail: `number`, `"llm" | "agent"`, `string[]`. */
  typeLabel(schema: Schema | boolean | undefined): string {
    const labels = this.alternatives(schema).map((alternative) => this.singleLabel(alternative));
    return [...new Set(labels)].join(' | ') || 'any';
  }

  resolve(schema: Schema | boolean | undefined): Schema | null {
    if (schema === undefined || typeof schema === 'boolean') return schema ? {} : null;
    if (!schema.$ref) return schema;
    const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const defs = (match?.[1] === '$defs' ? this.root.$defs : this.root.definitions) as
      Record<string, Schema> | undefined;
    return match ? this.resolve(defs?.[decodeURIComponent(match[2] ?? '')]) : null;
  }

  private children(schema: Schema, segment: string | number, value: unknown): Schema[] {
    if (typeof segment === 'number') {
      return this.alternatives(schema).flatMap((alternative) => {
        const items = Array.isArray(alternative.items) ? alternative.items[segment] : alternative.items;
        return items === undefined ? [] : this.alternatives(items);
      });
    }
    return this.objectBranches(schema, value).flatMap((branch) => {
      const property = propertySchema(branch, segment);
      return property === undefined ? [] : this.alternatives(property);
    });
  }

  private agreesWith(branch: Schema, value: unknown): boolean {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return true;
    return Object.entries(branch.properties ?? {}).every(([key, property]) => {
      const actual = (value as Record<string, unknown>)[key];
      const constant = this.constantOf(property);
      return actual === undefined || constant === undefined || actual === constant;
    });
  }

  private constantOf(schema: Schema | boolean): unknown {
    const resolved = this.resolve(schema);
    if (resolved?.const !== undefined) return resolved.const;
    return resolved?.enum?.length === 1 ? resolved.enum[0] : undefined;
  }

  private singleLabel(schema: Schema): string {
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
    const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
    if (types.length === 1 && types[0] === 'array') {
      const item = this.typeLabel(Array.isArray(schema.items) ? undefined : schema.items);
      return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
    }
    if (types.length === 1 && types[0] === 'object' && !schema.properties) {
      const values = schema.additionalProperties;
      return typeof values === 'object' ? `map of ${this.typeLabel(values)}` : 'object';
    }
    return types.join(' | ') || 'any';
  }
}

/** The schema of property `key` in an object schema: declared, or its `additionalProperties`. */
export function propertySchema(schema: Schema, key: string): Schema | boolean | undefined {
  const declared = schema.properties?.[key];
  if (declared !== undefined) return declared;
  return typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
}

function isObjectSchema(schema: Schema): boolean {
  return schema.type === 'object' || schema.properties !== undefined;
}
