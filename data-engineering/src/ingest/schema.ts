import * as fs from 'node:fs';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { COMPOUNDS_SCHEMA } from '../common/compound-schema.js';
import { InputError } from './errors.js';

export interface RecordValidator {
  validate: ValidateFunction;
  /** Where the schema came from, for the log. */
  source: string;
  /** A note when the schema had to be interpreted (no `items`). */
  warning?: string;
}

export interface SchemaError {
  instancePath: string;
  message: string;
  keyword: string;
}

export function schemaErrors(errors: ErrorObject[] | null | undefined): SchemaError[] {
  return (errors ?? []).map((e) => ({ instancePath: e.instancePath, message: e.message ?? e.keyword, keyword: e.keyword }));
}

/**
 * Compiles a validator for ONE record from the schema of the whole array (its `items`), with every
 * error reported (allErrors). Without a schema file the built-in compounds schema is used.
 * A schema without `items` but with `properties` (like the upstream one) is applied to each record.
 */
export function loadRecordValidator(schemaFile: string | undefined): RecordValidator {
  let schema: Record<string, unknown>;
  let source: string;
  let warning: string | undefined;
  if (schemaFile === undefined || !fs.existsSync(schemaFile)) {
    schema = structuredClone(COMPOUNDS_SCHEMA) as unknown as Record<string, unknown>;
    source = 'built-in compounds schema';
    if (schemaFile !== undefined) warning = `no schema at ${schemaFile}; using the built-in compounds schema`;
  } else {
    source = schemaFile;
    try {
      schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
    } catch (error) {
      throw new InputError(`schema ${schemaFile} is not valid JSON (${(error as Error).message}); fix it or pass --schema`);
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      throw new InputError(`schema ${schemaFile} must be a JSON Schema object`);
    }
  }
  const draft2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
  const ajv = draft2020 ? new Ajv2020({ allErrors: true, strict: false }) : new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);

  let itemSchema: Record<string, unknown>;
  const items = schema.items;
  if (typeof items === 'object' && items !== null && !Array.isArray(items)) {
    // Keep the root's $id and $defs (so the items' $refs resolve) and validate each record against items.
    const { type: _type, items: _items, ...root } = schema;
    const defsKey = draft2020 ? '$defs' : 'definitions';
    itemSchema = { ...root, [defsKey]: { ...(root[defsKey] as object | undefined), record: items }, $ref: `#/${defsKey}/record` };
  } else if (typeof schema.properties === 'object') {
    const { type: _type, ...rest } = schema;
    itemSchema = { ...rest, type: 'object' };
    warning = `schema ${source} describes the array without 'items'; applying its properties to each record`;
  } else {
    throw new InputError(`schema ${source} has neither 'items' nor 'properties': it cannot validate records`);
  }
  try {
    return { validate: ajv.compile(itemSchema), source, warning };
  } catch (error) {
    throw new InputError(`schema ${source} is not a valid JSON Schema: ${(error as Error).message}`);
  }
}
