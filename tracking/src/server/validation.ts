/**
 * Reading MLflow request messages: required fields, types (int64 may arrive as JSON strings, as
 * protobuf's JSON mapping allows) and MLflow's limits (mlflow/utils/validation.py).
 */
import { invalidParam } from './errors.js';
import type { KeyValue, Metric, MetricValue } from '../store/types.js';

export const LIMITS = {
  maxMetricsPerBatch: 1000,
  maxParamsTagsPerBatch: 100,
  maxEntitiesPerBatch: 1000,
  maxEntityKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
  maxExperimentTagValueLength: 5000,
  maxRegistryTagValueLength: 5000,
  maxRunsSearchResults: 50000,
  maxExperimentsSearchResults: 50000,
  maxRegisteredModelsSearchResults: 1000,
  maxModelVersionsSearchResults: 200000,
} as const;

export type Message = Record<string, unknown>;

function present(msg: Message, field: string): boolean {
  const v = msg[field];
  return v !== undefined && v !== null && v !== '';
}

export function requireString(msg: Message, field: string): string {
  if (!present(msg, field)) throw invalidParam(`Missing value for required parameter '${field}'. See the API docs for more information about request parameters.`);
  return optionalString(msg, field)!;
}

export function optionalString(msg: Message, field: string): string | undefined {
  let v = msg[field];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.length === 1) v = v[0];
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: expected a string.`);
  return v;
}

export function optionalInt(msg: Message, field: string): number | undefined {
  let v = msg[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (Array.isArray(v) && v.length === 1) v = v[0];
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: expected an integer.`);
  return n;
}

export function requireInt(msg: Message, field: string): number {
  const n = optionalInt(msg, field);
  if (n === undefined) throw invalidParam(`Missing value for required parameter '${field}'. See the API docs for more information about request parameters.`);
  return n;
}

export function optionalBool(msg: Message, field: string): boolean | undefined {
  const v = msg[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: expected true or false.`);
}

export function stringList(msg: Message, field: string): string[] {
  const v = msg[field];
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((item) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number') return String(item);
    throw invalidParam(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: expected a list of strings.`);
  });
}

export function maxResults(msg: Message, fallback: number, limit: number): number {
  const n = optionalInt(msg, 'max_results') ?? fallback;
  if (n < 1 || n > limit) throw invalidParam(`Invalid value ${n} for parameter 'max_results' supplied. It must be at most ${limit}, and at least 1.`);
  return n;
}

/** Metric and param keys as MLflow accepts them: letters, digits, _ - . / space and :, no "..", not absolute. */
const validKeys = new Set<string>();

export function validateKey(kind: string, key: string): void {
  // Metric keys repeat on every point of a batch: remember the ones already checked.
  if (validKeys.has(key)) return;
  if (key.length > LIMITS.maxEntityKeyLength) throw invalidParam(`${kind} key '${key.slice(0, 40)}…' had length ${key.length}, which exceeded length limit of ${LIMITS.maxEntityKeyLength}.`);
  if (!/^[\w\-./ :]*$/.test(key) || key === '' || key.startsWith('/') || key.split('/').includes('..')) {
    throw invalidParam(
      `Invalid ${kind.toLowerCase()} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/), must not be empty, start with '/' or contain '..'.`,
    );
  }
  if (validKeys.size > 100_000) validKeys.clear();
  validKeys.add(key);
}

function keyValue(kind: string, raw: unknown, maxValueLength: number, checkKeyChars: boolean): KeyValue {
  if (typeof raw !== 'object' || raw === null) throw invalidParam(`Invalid ${kind.toLowerCase()}: expected an object with 'key' and 'value', got ${JSON.stringify(raw)}.`);
  const msg = raw as Message;
  const key = requireString(msg, 'key');
  const value = optionalString(msg, 'value') ?? '';
  if (checkKeyChars) validateKey(kind, key);
  else if (key.length > LIMITS.maxEntityKeyLength) throw invalidParam(`${kind} key '${key.slice(0, 40)}…' had length ${key.length}, which exceeded length limit of ${LIMITS.maxEntityKeyLength}.`);
  if (value.length > maxValueLength) throw invalidParam(`${kind} value '${value.slice(0, 40)}…' had length ${value.length}, which exceeded length limit of ${maxValueLength}.`);
  return { key, value };
}

export const readParam = (raw: unknown): KeyValue => keyValue('Param', raw, LIMITS.maxParamValueLength, true);
export const readTag = (raw: unknown): KeyValue => keyValue('Tag', raw, LIMITS.maxTagValueLength, false);
export const readExperimentTag = (raw: unknown): KeyValue => keyValue('Tag', raw, LIMITS.maxExperimentTagValueLength, false);
export const readRegistryTag = (raw: unknown): KeyValue => keyValue('Tag', raw, LIMITS.maxRegistryTagValueLength, false);

export function readList(msg: Message, field: string): unknown[] {
  const v = msg[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParam(`Invalid value for parameter '${field}': expected a JSON array.`);
  return v;
}

export function readMetric(raw: unknown): Metric {
  if (typeof raw !== 'object' || raw === null) throw invalidParam(`Invalid metric: expected an object with key, value, timestamp and step, got ${JSON.stringify(raw)}.`);
  const msg = raw as Message;
  const key = requireString(msg, 'key');
  validateKey('Metric', key);
  const rawValue = msg.value;
  let value: MetricValue;
  if (typeof rawValue === 'number') value = rawValue;
  else if (rawValue === 'NaN' || rawValue === 'Infinity' || rawValue === '-Infinity') value = rawValue;
  else if (typeof rawValue === 'string' && rawValue.trim() !== '' && Number.isFinite(Number(rawValue))) value = Number(rawValue);
  else if (rawValue === undefined || rawValue === null) throw invalidParam(`Missing value for required parameter 'value' of metric '${key}'.`);
  else throw invalidParam(`Got invalid value ${JSON.stringify(rawValue)} for metric '${key}' (timestamp=${String(msg.timestamp)}). Please specify value as a valid double (64-bit floating point).`);
  const timestamp = requireInt(msg, 'timestamp');
  const step = optionalInt(msg, 'step') ?? 0;
  return { key, value, timestamp, step };
}
