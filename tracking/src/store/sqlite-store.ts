/**
 * TrackingStore on one SQLite file (better-sqlite3): WAL journal, busy timeout, every write in one
 * IMMEDIATE transaction. Acknowledged writes survive a killed process: WAL commits reach the OS before
 * the call returns (synchronous=NORMAL); pass `synchronous: 'FULL'` to also survive power loss.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { alreadyExists, invalidParam, MlflowError, notFound } from '../server/errors.js';
import { likeToRegExp, parseFilter, parseOrderBy, type FilterClause } from './filter.js';
import { generateRunName } from './run-names.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import type { SearchArgs, TrackingStore } from './store.js';
import {
  MODEL_STAGES,
  type DatasetInput,
  type Experiment,
  type KeyValue,
  type Metric,
  type MetricValue,
  type ModelStage,
  type ModelVersion,
  type Page,
  type RegisteredModel,
  type Run,
  type RunInfo,
  type RunStatus,
  type ViewType,
} from './types.js';

export interface SqliteStoreOptions {
  /** Artifact location given to new experiments: `<root>/<experiment_id>`. MLflow's proxied default. */
  defaultArtifactRoot?: string;
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
}

interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time: number;
  last_update_time: number;
}
interface RunRow {
  run_uuid: string;
  name: string;
  experiment_id: number;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: 'active' | 'deleted';
  artifact_uri: string;
}
interface VersionRow {
  name: string;
  version: number;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string;
  user_id: string;
  current_stage: ModelStage;
  source: string;
  run_id: string;
  run_link: string;
}
interface ModelRow {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description: string;
  user_id: string;
}

const RUN_NAME_TAG = 'mlflow.runName';

export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

export function decodePageToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    const offset = (parsed as { offset?: unknown }).offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through to the error below
  }
  throw invalidParam(`Invalid page_token '${token}': pass back the next_page_token of a previous response unchanged.`);
}

function metricToWire(key: string, value: number, isNan: number, timestamp: number, step: number): Metric {
  let v: MetricValue = value;
  if (isNan) v = 'NaN';
  else if (value === Infinity) v = 'Infinity';
  else if (value === -Infinity) v = '-Infinity';
  return { key, value: v, timestamp, step };
}

function metricToRow(value: MetricValue): { value: number; isNan: number } {
  if (value === 'NaN' || (typeof value === 'number' && Number.isNaN(value))) return { value: 0, isNan: 1 };
  if (value === 'Infinity') return { value: Infinity, isNan: 0 };
  if (value === '-Infinity') return { value: -Infinity, isNan: 0 };
  return { value, isNan: 0 };
}

function viewStages(viewType: ViewType): string[] {
  if (viewType === 'ACTIVE_ONLY') return ['active'];
  if (viewType === 'DELETED_ONLY') return ['deleted'];
  return ['active', 'deleted'];
}

function page<T>(all: T[], maxResults: number, pageToken: string | undefined): Page<T> {
  const offset = decodePageToken(pageToken);
  const items = all.slice(offset, offset + maxResults);
  return { items, nextPageToken: offset + maxResults < all.length ? encodePageToken(offset + maxResults) : undefined };
}

/** Compares in-memory values for the experiment / registry filters (small tables, filtered in JS). */
function matchesClause(actual: string | number | undefined, clause: FilterClause): boolean {
  const { comparator, value } = clause;
  if (comparator === 'IS NULL') return actual === undefined;
  if (comparator === 'IS NOT NULL') return actual !== undefined;
  if (actual === undefined) return false;
  if (value.kind === 'list') {
    const inList = value.value.includes(String(actual));
    return comparator === 'IN' ? inList : !inList;
  }
  if (value.kind === 'none') return false;
  const expected = value.value;
  if (comparator === 'LIKE' || comparator === 'ILIKE') return likeToRegExp(String(expected), comparator === 'ILIKE').test(String(actual));
  const a = typeof expected === 'number' ? Number(actual) : String(actual);
  switch (comparator) {
    case '=':
      return a === expected;
    case '!=':
      return a !== expected;
    case '>':
      return a > expected;
    case '>=':
      return a >= expected;
    case '<':
      return a < expected;
    case '<=':
      return a <= expected;
    default:
      return false;
  }
}

function compareValues(a: string | number | undefined, b: string | number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a < b ? -1 : 1;
}

function sortBy<T>(items: T[], orderBy: string[] | undefined, fallback: string[], attribute: (item: T, key: string) => string | number | undefined, allowed: string[], tagsOf?: (item: T) => KeyValue[]): T[] {
  const orders = [...(orderBy ?? []), ...fallback].map((o) => {
    const parsed = parseOrderBy(o);
    if (parsed.entity === 'tag' && tagsOf) return parsed;
    if (parsed.entity !== 'attribute' || !allowed.includes(parsed.key)) {
      throw invalidParam(`Invalid order_by clause '${o}'. Allowed keys: ${allowed.join(', ')}${tagsOf ? ', tags.<key>' : ''}.`);
    }
    return parsed;
  });
  return [...items].sort((x, y) => {
    for (const o of orders) {
      const get = (it: T): string | number | undefined => (o.entity === 'tag' && tagsOf ? tagsOf(it).find((t) => t.key === o.key)?.value : attribute(it, o.key));
      const c = compareValues(get(x), get(y));
      if (c !== 0) return o.ascending ? c : -c;
    }
    return 0;
  });
}

export class SqliteStore implements TrackingStore {
  readonly db: Database.Database;
  private readonly defaultArtifactRoot: string;
  private readonly stmt: ReturnType<SqliteStore['prepareStatements']>;

  constructor(dbPath: string, options: SqliteStoreOptions = {}) {
    if (dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
    this.db = new Database(dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10000}`);
    // MLflow's LIKE is case-sensitive; ILIKE is the case-insensitive one.
    this.db.pragma('case_sensitive_like = ON');
    this.db.pragma('foreign_keys = OFF');
    // 64 MiB of page cache: a 100,000-point metric history is ~7 MB of pages and should stay in memory.
    this.db.pragma('cache_size = -65536');
    this.defaultArtifactRoot = (options.defaultArtifactRoot ?? 'mlflow-artifacts:').replace(/\/+$/, '');
    this.migrate();
    this.stmt = this.prepareStatements();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`The tracking database was written by a newer server (schema ${version} > ${SCHEMA_VERSION}); upgrade this server.`);
    }
    this.db
      .transaction(() => {
        this.db.exec(SCHEMA_SQL);
        const hasDefault = this.db.prepare('SELECT 1 FROM experiments WHERE experiment_id = 0').get();
        if (!hasDefault) {
          const now = Date.now();
          this.db
            .prepare('INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, ?, ?, ?, ?, ?)')
            .run('Default', `${this.defaultArtifactRoot}/0`, 'active', now, now);
        }
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })
      .immediate();
  }

  private prepareStatements() {
    const db = this.db;
    return {
      experimentById: db.prepare<[number], ExperimentRow>('SELECT * FROM experiments WHERE experiment_id = ?'),
      experimentByName: db.prepare<[string], ExperimentRow>('SELECT * FROM experiments WHERE name = ?'),
      experimentTags: db.prepare<[number], KeyValue>('SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key'),
      runById: db.prepare<[string], RunRow>('SELECT * FROM runs WHERE run_uuid = ?'),
      runState: db.prepare<[string], { lifecycle_stage: string }>('SELECT lifecycle_stage FROM runs WHERE run_uuid = ?'),
      seriesId: db.prepare<[string, string], { series_id: number }>('SELECT series_id FROM metric_series WHERE run_uuid = ? AND key = ?'),
      insertSeries: db.prepare('INSERT INTO metric_series (run_uuid, key) VALUES (?, ?)'),
      insertMetric: db.prepare('INSERT OR IGNORE INTO metric_points (series_id, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?)'),
      upsertLatest: db.prepare(
        `INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan
         WHERE (excluded.step, excluded.timestamp, excluded.value) >= (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)`,
      ),
      paramValue: db.prepare<[string, string], { value: string }>('SELECT value FROM params WHERE run_uuid = ? AND key = ?'),
      insertParam: db.prepare('INSERT OR IGNORE INTO params (run_uuid, key, value) VALUES (?, ?, ?)'),
      upsertTag: db.prepare('INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value'),
      renameRun: db.prepare('UPDATE runs SET name = ? WHERE run_uuid = ?'),
      history: db.prepare(
        'SELECT p.value, p.is_nan, p.timestamp, p.step FROM metric_series s JOIN metric_points p ON p.series_id = s.series_id WHERE s.run_uuid = ? AND s.key = ? ORDER BY p.step, p.timestamp, p.value LIMIT ? OFFSET ?',
      ),
      // NaN and ±Infinity become MLflow's strings; SQLite prints doubles so that they round-trip exactly.
      historyJson: db.prepare<{ runId: string; key: string; limit: number; offset: number }, { json: string; n: number }>(
        `SELECT json_group_array(json_object('key', @key, 'value', CASE WHEN is_nan THEN 'NaN' WHEN value = 9e999 THEN 'Infinity' WHEN value = -9e999 THEN '-Infinity' ELSE value END, 'timestamp', timestamp, 'step', step)) AS json, count(*) AS n
         FROM (SELECT p.value, p.is_nan, p.timestamp, p.step FROM metric_series s JOIN metric_points p ON p.series_id = s.series_id
               WHERE s.run_uuid = @runId AND s.key = @key ORDER BY p.step, p.timestamp, p.value LIMIT @limit OFFSET @offset)`,
      ),
      modelByName: db.prepare<[string], ModelRow>('SELECT * FROM registered_models WHERE name = ?'),
      versionByKey: db.prepare<[string, number], VersionRow>('SELECT * FROM model_versions WHERE name = ? AND version = ? AND deleted = 0'),
      versionTags: db.prepare<[string, number], KeyValue>('SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? ORDER BY key'),
      versionAliases: db.prepare<[string, number], { alias: string }>('SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias'),
      aliasVersion: db.prepare<[string, string], { version: number }>('SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?'),
    };
  }

  /** Runs `fn` in one IMMEDIATE transaction: applied whole or not at all. */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  // ---------------------------------------------------------------- experiments

  private experimentRow(experimentId: string): ExperimentRow {
    const id = /^\d+$/.test(experimentId) ? Number(experimentId) : NaN;
    const row = Number.isSafeInteger(id) ? this.stmt.experimentById.get(id) : undefined;
    if (!row) throw notFound(`No Experiment with id=${experimentId} exists`);
    return row;
  }

  private experimentToWire(row: ExperimentRow): Experiment {
    return {
      experiment_id: String(row.experiment_id),
      name: row.name,
      artifact_location: row.artifact_location,
      lifecycle_stage: row.lifecycle_stage,
      last_update_time: row.last_update_time,
      creation_time: row.creation_time,
      tags: this.stmt.experimentTags.all(row.experiment_id),
    };
  }

  async createExperiment(name: string, artifactLocation: string | undefined, tags: KeyValue[]): Promise<string> {
    return this.write(() => {
      if (this.stmt.experimentByName.get(name)) throw alreadyExists(`Experiment(name=${name}) already exists.`);
      const now = Date.now();
      const info = this.db
        .prepare('INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)')
        .run(name, artifactLocation ?? '', 'active', now, now);
      const id = Number(info.lastInsertRowid);
      if (!artifactLocation) this.db.prepare('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?').run(`${this.defaultArtifactRoot}/${id}`, id);
      const insertTag = this.db.prepare('INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)');
      for (const t of tags) insertTag.run(id, t.key, t.value);
      return String(id);
    });
  }

  async getExperiment(experimentId: string): Promise<Experiment> {
    return this.experimentToWire(this.experimentRow(experimentId));
  }

  async getExperimentByName(name: string): Promise<Experiment> {
    const row = this.stmt.experimentByName.get(name);
    if (!row) throw notFound(`Could not find experiment with name '${name}'`);
    return this.experimentToWire(row);
  }

  async searchExperiments(args: SearchArgs & { viewType: ViewType }): Promise<Page<Experiment>> {
    const stages = viewStages(args.viewType);
    const clauses = parseFilter(args.filter);
    const attrs = ['name', 'experiment_id', 'creation_time', 'last_update_time'];
    for (const c of clauses) {
      if (c.entity === 'tag') continue;
      if (c.entity !== 'attribute' || !attrs.includes(c.key)) throw invalidParam(`Invalid filter key '${c.key}' for experiments: use ${attrs.join(', ')} or tags.<key>.`);
    }
    const rows = this.db.prepare<[], ExperimentRow>('SELECT * FROM experiments').all().filter((r) => stages.includes(r.lifecycle_stage));
    let experiments = rows.map((r) => this.experimentToWire(r));
    experiments = experiments.filter((e) =>
      clauses.every((c) => {
        const actual = c.entity === 'tag' ? e.tags.find((t) => t.key === c.key)?.value : c.key === 'experiment_id' ? e.experiment_id : (e[c.key as keyof Experiment] as string | number);
        return matchesClause(actual, c);
      }),
    );
    const sorted = sortBy(experiments, args.orderBy, ['creation_time DESC', 'experiment_id ASC'], (e, k) => (k === 'experiment_id' ? Number(e.experiment_id) : (e[k as keyof Experiment] as string | number)), attrs, (e) => e.tags);
    return page(sorted, args.maxResults, args.pageToken);
  }

  async renameExperiment(experimentId: string, newName: string): Promise<void> {
    this.write(() => {
      const row = this.experimentRow(experimentId);
      if (row.lifecycle_stage !== 'active') throw invalidParam(`Cannot rename a non-active experiment (id=${experimentId}): restore it first.`);
      const clash = this.stmt.experimentByName.get(newName);
      if (clash && clash.experiment_id !== row.experiment_id) throw alreadyExists(`Experiment(name=${newName}) already exists.`);
      this.db.prepare('UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?').run(newName, Date.now(), row.experiment_id);
    });
  }

  private setExperimentStage(experimentId: string, stage: 'active' | 'deleted'): void {
    this.write(() => {
      const row = this.experimentRow(experimentId);
      if (stage === 'active' && row.lifecycle_stage === 'active') throw invalidParam(`Cannot restore an active experiment (id=${experimentId}).`);
      if (stage === 'deleted' && row.lifecycle_stage === 'deleted') throw invalidParam(`Experiment ${experimentId} is already deleted.`);
      this.db.prepare('UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?').run(stage, Date.now(), row.experiment_id);
      // As MLflow's SQL store: deleting an experiment deletes its runs; restoring restores them.
      this.db.prepare('UPDATE runs SET lifecycle_stage = ? WHERE experiment_id = ?').run(stage, row.experiment_id);
    });
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    this.setExperimentStage(experimentId, 'deleted');
  }

  async restoreExperiment(experimentId: string): Promise<void> {
    this.setExperimentStage(experimentId, 'active');
  }

  async setExperimentTag(experimentId: string, tag: KeyValue): Promise<void> {
    this.write(() => {
      const row = this.experimentRow(experimentId);
      if (row.lifecycle_stage !== 'active') throw invalidParam(`The experiment ${experimentId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`);
      this.db.prepare('INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)').run(row.experiment_id, tag.key, tag.value);
    });
  }

  // ---------------------------------------------------------------- runs

  private runRow(runId: string): RunRow {
    const row = this.stmt.runById.get(runId);
    if (!row) throw notFound(`Run with id=${runId} not found`);
    return row;
  }

  private requireActiveRun(runId: string): void {
    const row = this.stmt.runState.get(runId);
    if (!row) throw notFound(`Run with id=${runId} not found`);
    if (row.lifecycle_stage !== 'active') throw invalidParam(`The run ${runId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`);
  }

  private runInfo(row: RunRow): RunInfo {
    const info: RunInfo = {
      run_id: row.run_uuid,
      run_uuid: row.run_uuid,
      run_name: row.name,
      experiment_id: String(row.experiment_id),
      user_id: row.user_id,
      status: row.status,
      start_time: row.start_time,
      artifact_uri: row.artifact_uri,
      lifecycle_stage: row.lifecycle_stage,
    };
    if (row.end_time !== null) info.end_time = row.end_time;
    return info;
  }

  /** Loads params, tags, latest metrics and inputs of many runs with a few IN queries. */
  private runsToWire(rows: RunRow[]): Run[] {
    const byId = new Map<string, Run>();
    for (const row of rows) byId.set(row.run_uuid, { info: this.runInfo(row), data: { metrics: [], params: [], tags: [] }, inputs: { dataset_inputs: [] } });
    const ids = rows.map((r) => r.run_uuid);
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const marks = chunk.map(() => '?').join(',');
      for (const p of this.db.prepare<string[], KeyValue & { run_uuid: string }>(`SELECT run_uuid, key, value FROM params WHERE run_uuid IN (${marks}) ORDER BY run_uuid, key`).all(...chunk)) {
        byId.get(p.run_uuid)!.data.params.push({ key: p.key, value: p.value });
      }
      for (const t of this.db.prepare<string[], KeyValue & { run_uuid: string }>(`SELECT run_uuid, key, value FROM tags WHERE run_uuid IN (${marks}) ORDER BY run_uuid, key`).all(...chunk)) {
        byId.get(t.run_uuid)!.data.tags.push({ key: t.key, value: t.value });
      }
      type M = { run_uuid: string; key: string; value: number; is_nan: number; timestamp: number; step: number };
      for (const m of this.db.prepare<string[], M>(`SELECT run_uuid, key, value, is_nan, timestamp, step FROM latest_metrics WHERE run_uuid IN (${marks}) ORDER BY run_uuid, key`).all(...chunk)) {
        byId.get(m.run_uuid)!.data.metrics.push(metricToWire(m.key, m.value, m.is_nan, m.timestamp, m.step));
      }
      for (const d of this.db.prepare<string[], { run_uuid: string; payload: string }>(`SELECT run_uuid, payload FROM run_inputs WHERE run_uuid IN (${marks})`).all(...chunk)) {
        byId.get(d.run_uuid)!.inputs.dataset_inputs.push(JSON.parse(d.payload) as DatasetInput);
      }
    }
    return rows.map((r) => byId.get(r.run_uuid)!);
  }

  async createRun(args: { experimentId: string; userId: string; runName?: string; startTime: number; tags: KeyValue[] }): Promise<Run> {
    const row = this.write(() => {
      const exp = this.experimentRow(args.experimentId);
      if (exp.lifecycle_stage !== 'active') throw invalidParam(`The experiment ${args.experimentId} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
      const tagName = args.tags.find((t) => t.key === RUN_NAME_TAG)?.value;
      if (args.runName && tagName !== undefined && tagName !== args.runName) {
        throw invalidParam(`Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${args.runName}', mlflow.runName='${tagName}').`);
      }
      const name = args.runName || tagName || generateRunName();
      const runId = randomUUID().replace(/-/g, '');
      const artifactUri = `${exp.artifact_location.replace(/\/+$/, '')}/${runId}/artifacts`;
      this.db
        .prepare('INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)')
        .run(runId, name, exp.experiment_id, args.userId, 'RUNNING', args.startTime, 'active', artifactUri);
      for (const t of args.tags) this.stmt.upsertTag.run(runId, t.key, t.value);
      this.stmt.upsertTag.run(runId, RUN_NAME_TAG, name);
      return this.runRow(runId);
    });
    return this.runsToWire([row])[0]!;
  }

  async getRun(runId: string): Promise<Run> {
    return this.runsToWire([this.runRow(runId)])[0]!;
  }

  async updateRun(runId: string, args: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo> {
    return this.write(() => {
      this.requireActiveRun(runId);
      if (args.status !== undefined) this.db.prepare('UPDATE runs SET status = ? WHERE run_uuid = ?').run(args.status, runId);
      if (args.endTime !== undefined) this.db.prepare('UPDATE runs SET end_time = ? WHERE run_uuid = ?').run(args.endTime, runId);
      if (args.runName) {
        this.stmt.renameRun.run(args.runName, runId);
        this.stmt.upsertTag.run(runId, RUN_NAME_TAG, args.runName);
      }
      return this.runInfo(this.runRow(runId));
    });
  }

  private setRunStage(runId: string, stage: 'active' | 'deleted'): void {
    this.write(() => {
      this.runRow(runId);
      this.db.prepare('UPDATE runs SET lifecycle_stage = ? WHERE run_uuid = ?').run(stage, runId);
    });
  }

  async deleteRun(runId: string): Promise<void> {
    this.setRunStage(runId, 'deleted');
  }

  async restoreRun(runId: string): Promise<void> {
    this.setRunStage(runId, 'active');
  }

  async logBatch(runId: string, batch: { metrics: Metric[]; params: KeyValue[]; tags: KeyValue[] }): Promise<void> {
    this.write(() => {
      this.requireActiveRun(runId);
      for (const p of batch.params) {
        const existing = this.stmt.paramValue.get(runId, p.key);
        if (existing && existing.value !== p.value) {
          throw invalidParam(
            `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${existing.value}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`,
          );
        }
        if (!existing) this.stmt.insertParam.run(runId, p.key, p.value);
      }
      for (const t of batch.tags) {
        this.stmt.upsertTag.run(runId, t.key, t.value);
        if (t.key === RUN_NAME_TAG) this.stmt.renameRun.run(t.value, runId);
      }
      // Insert every point, then fold the batch's maximum per key into latest_metrics once per key.
      const latest = new Map<string, { step: number; timestamp: number; value: number; isNan: number }>();
      const seriesIds = new Map<string, number>();
      for (const m of batch.metrics) {
        const { value, isNan } = metricToRow(m.value);
        let series = seriesIds.get(m.key);
        if (series === undefined) {
          series = this.stmt.seriesId.get(runId, m.key)?.series_id ?? Number(this.stmt.insertSeries.run(runId, m.key).lastInsertRowid);
          seriesIds.set(m.key, series);
        }
        this.stmt.insertMetric.run(series, m.step, m.timestamp, value, isNan);
        const prev = latest.get(m.key);
        if (!prev || m.step > prev.step || (m.step === prev.step && (m.timestamp > prev.timestamp || (m.timestamp === prev.timestamp && value >= prev.value)))) {
          latest.set(m.key, { step: m.step, timestamp: m.timestamp, value, isNan });
        }
      }
      for (const [key, l] of latest) this.stmt.upsertLatest.run(runId, key, l.step, l.timestamp, l.value, l.isNan);
    });
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    this.write(() => {
      this.requireActiveRun(runId);
      const info = this.db.prepare('DELETE FROM tags WHERE run_uuid = ? AND key = ?').run(runId, key);
      if (info.changes === 0) throw notFound(`No tag with name: ${key} in run with id ${runId}`);
    });
  }

  async logInputs(runId: string, inputs: DatasetInput[]): Promise<void> {
    this.write(() => {
      this.requireActiveRun(runId);
      const insert = this.db.prepare('INSERT OR REPLACE INTO run_inputs (run_uuid, name, digest, payload) VALUES (?, ?, ?, ?)');
      for (const input of inputs) insert.run(runId, input.dataset.name, input.dataset.digest, JSON.stringify(input));
    });
  }

  async getMetricHistory(runId: string, key: string, maxResults: number | undefined, pageToken: string | undefined): Promise<Page<Metric>> {
    this.runRow(runId);
    const offset = decodePageToken(pageToken);
    const limit = maxResults ?? -1;
    const rows = this.stmt.history.raw().all(runId, key, limit, offset) as [number, number, number, number][];
    const items = rows.map(([value, isNan, timestamp, step]) => metricToWire(key, value, isNan, timestamp, step));
    const more = maxResults !== undefined && rows.length === maxResults;
    return { items, nextPageToken: more ? encodePageToken(offset + maxResults) : undefined };
  }

  async getMetricHistoryJson(runId: string, key: string, maxResults: number | undefined, pageToken: string | undefined): Promise<{ json: string; nextPageToken?: string }> {
    this.runRow(runId);
    const offset = decodePageToken(pageToken);
    const row = this.stmt.historyJson.get({ runId, key, limit: maxResults ?? -1, offset })!;
    const more = maxResults !== undefined && row.n === maxResults;
    return { json: row.json, nextPageToken: more ? encodePageToken(offset + maxResults) : undefined };
  }

  async searchRuns(args: SearchArgs & { experimentIds: string[]; viewType: ViewType }): Promise<Page<Run>> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const joins: string[] = [];
    const joinParams: (string | number)[] = [];
    const expIds = args.experimentIds.map((id) => {
      if (!/^\d+$/.test(id)) throw invalidParam(`Invalid experiment id '${id}' in experiment_ids: ids are decimal strings such as "1".`);
      return Number(id);
    });
    where.push(`r.experiment_id IN (${expIds.map(() => '?').join(',')})`);
    params.push(...expIds);
    const stages = viewStages(args.viewType);
    where.push(`r.lifecycle_stage IN (${stages.map(() => '?').join(',')})`);
    params.push(...stages);
    // Clauses that select runs having some metric/param/tag value become one INTERSECT of index scans
    // that the runs are joined to; that is about twice as fast as testing each run of the experiment.
    const candidates: string[] = [];
    const candidateParams: (string | number)[] = [];
    for (const clause of parseFilter(args.filter)) {
      const sql = runClauseSql(clause);
      if (sql.candidate) {
        candidates.push(sql.candidate);
        candidateParams.push(...sql.params);
      } else {
        where.push(sql.sql);
        params.push(...sql.params);
      }
    }
    if (candidates.length > 0) {
      joins.unshift(`JOIN (${candidates.join(' INTERSECT ')}) c ON c.run_uuid = r.run_uuid`);
      joinParams.unshift(...candidateParams);
    }
    const orderSql: string[] = [];
    (args.orderBy ?? []).forEach((expr, i) => {
      const o = parseOrderBy(expr);
      const dir = o.ascending ? 'ASC' : 'DESC';
      const table = { metric: 'latest_metrics', param: 'params', tag: 'tags' } as const;
      if (o.entity === 'metric' || o.entity === 'param' || o.entity === 'tag') {
        joins.push(`LEFT JOIN ${table[o.entity]} o${i} ON o${i}.run_uuid = r.run_uuid AND o${i}.key = ?`);
        joinParams.push(o.key);
        // Runs without the value sort last whichever the direction, as in MLflow.
        orderSql.push(`(o${i}.value IS NULL) ASC`, `o${i}.value ${dir}`);
      } else if (o.entity === 'attribute') {
        const column = RUN_ORDER_ATTRIBUTES[o.key];
        if (!column) throw invalidParam(`Invalid order_by attribute '${o.key}'. Use one of: ${Object.keys(RUN_ORDER_ATTRIBUTES).join(', ')}.`);
        orderSql.push(`(r.${column} IS NULL) ASC`, `r.${column} ${dir}`);
      } else {
        throw invalidParam(`Invalid order_by clause '${expr}': order by metrics., params., tags. or attributes.`);
      }
    });
    orderSql.push('r.start_time DESC', 'r.run_uuid ASC');
    const offset = decodePageToken(args.pageToken);
    const sql = `SELECT r.* FROM runs r ${joins.join(' ')} WHERE ${where.join(' AND ')} ORDER BY ${orderSql.join(', ')} LIMIT ? OFFSET ?`;
    const rows = this.db.prepare<(string | number)[], RunRow>(sql).all(...joinParams, ...params, args.maxResults + 1, offset);
    const more = rows.length > args.maxResults;
    if (more) rows.pop();
    return { items: this.runsToWire(rows), nextPageToken: more ? encodePageToken(offset + args.maxResults) : undefined };
  }

  // ---------------------------------------------------------------- registry

  private modelRow(name: string): ModelRow {
    const row = this.stmt.modelByName.get(name);
    if (!row) throw notFound(`Registered Model with name=${name} not found`);
    return row;
  }

  private versionNumber(name: string, version: string): number {
    const v = /^\d+$/.test(version) ? Number(version) : NaN;
    if (!Number.isSafeInteger(v)) throw invalidParam(`Model version must be an integer, got '${version}'.`);
    return v;
  }

  private versionRow(name: string, version: string): VersionRow {
    this.modelRow(name);
    const row = this.stmt.versionByKey.get(name, this.versionNumber(name, version));
    if (!row) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    return row;
  }

  private versionToWire(row: VersionRow): ModelVersion {
    return {
      name: row.name,
      version: String(row.version),
      creation_timestamp: row.creation_timestamp,
      last_updated_timestamp: row.last_updated_timestamp,
      user_id: row.user_id,
      current_stage: row.current_stage,
      description: row.description,
      source: row.source,
      run_id: row.run_id,
      status: 'READY',
      status_message: '',
      tags: this.stmt.versionTags.all(row.name, row.version),
      run_link: row.run_link,
      aliases: this.stmt.versionAliases.all(row.name, row.version).map((a) => a.alias),
    };
  }

  private latestVersions(name: string, stages: string[]): ModelVersion[] {
    const wanted = stages.length === 0 ? MODEL_STAGES : stages.map((s) => canonicalStage(s));
    const rows = this.db
      .prepare<[string], VersionRow>(
        `SELECT * FROM model_versions v WHERE name = ? AND deleted = 0 AND version = (SELECT MAX(version) FROM model_versions w WHERE w.name = v.name AND w.deleted = 0 AND w.current_stage = v.current_stage) ORDER BY version`,
      )
      .all(name);
    return rows.filter((r) => wanted.includes(r.current_stage)).map((r) => this.versionToWire(r));
  }

  private modelToWire(row: ModelRow): RegisteredModel {
    return {
      name: row.name,
      creation_timestamp: row.creation_timestamp,
      last_updated_timestamp: row.last_updated_timestamp,
      user_id: row.user_id,
      description: row.description,
      latest_versions: this.latestVersions(row.name, []),
      tags: this.db.prepare<[string], KeyValue>('SELECT key, value FROM registered_model_tags WHERE name = ? ORDER BY key').all(row.name),
      aliases: this.db
        .prepare<[string], { alias: string; version: number }>('SELECT alias, version FROM registered_model_aliases WHERE name = ? ORDER BY alias')
        .all(row.name)
        .map((a) => ({ alias: a.alias, version: String(a.version) })),
    };
  }

  private touchModel(name: string, now = Date.now()): void {
    this.db.prepare('UPDATE registered_models SET last_updated_timestamp = ? WHERE name = ?').run(now, name);
  }

  async createRegisteredModel(name: string, tags: KeyValue[], description: string): Promise<RegisteredModel> {
    return this.write(() => {
      if (this.stmt.modelByName.get(name)) throw alreadyExists(`Registered Model (name=${name}) already exists.`);
      const now = Date.now();
      this.db.prepare('INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, description, user_id) VALUES (?, ?, ?, ?, ?)').run(name, now, now, description, '');
      const insert = this.db.prepare('INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)');
      for (const t of tags) insert.run(name, t.key, t.value);
      return this.modelToWire(this.modelRow(name));
    });
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return this.modelToWire(this.modelRow(name));
  }

  async searchRegisteredModels(args: SearchArgs): Promise<Page<RegisteredModel>> {
    const clauses = parseFilter(args.filter);
    for (const c of clauses) {
      if (!(c.entity === 'tag' || (c.entity === 'attribute' && c.key === 'name'))) throw invalidParam(`Invalid filter '${args.filter}': registered models can be filtered by name and tags.<key> only.`);
    }
    const models = this.db
      .prepare<[], ModelRow>('SELECT * FROM registered_models')
      .all()
      .map((r) => this.modelToWire(r))
      .filter((m) => clauses.every((c) => matchesClause(c.entity === 'tag' ? m.tags.find((t) => t.key === c.key)?.value : m.name, c)));
    const attrs = ['name', 'creation_timestamp', 'last_updated_timestamp', 'timestamp'];
    const sorted = sortBy(models, args.orderBy, ['name ASC'], (m, k) => (k === 'timestamp' ? m.last_updated_timestamp : (m[k as keyof RegisteredModel] as string | number)), attrs);
    return page(sorted, args.maxResults, args.pageToken);
  }

  async renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel> {
    return this.write(() => {
      this.modelRow(name);
      if (name !== newName && this.stmt.modelByName.get(newName)) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
      for (const table of ['registered_models', 'registered_model_tags', 'model_versions', 'model_version_tags', 'registered_model_aliases']) {
        this.db.prepare(`UPDATE ${table} SET name = ? WHERE name = ?`).run(newName, name);
      }
      this.touchModel(newName);
      return this.modelToWire(this.modelRow(newName));
    });
  }

  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    return this.write(() => {
      this.modelRow(name);
      this.db.prepare('UPDATE registered_models SET description = ?, last_updated_timestamp = ? WHERE name = ?').run(description, Date.now(), name);
      return this.modelToWire(this.modelRow(name));
    });
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    this.write(() => {
      this.modelRow(name);
      for (const table of ['registered_models', 'registered_model_tags', 'model_versions', 'model_version_tags', 'registered_model_aliases']) {
        this.db.prepare(`DELETE FROM ${table} WHERE name = ?`).run(name);
      }
    });
  }

  async setRegisteredModelTag(name: string, tag: KeyValue): Promise<void> {
    this.write(() => {
      this.modelRow(name);
      this.db.prepare('INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)').run(name, tag.key, tag.value);
    });
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    this.write(() => {
      this.modelRow(name);
      const info = this.db.prepare('DELETE FROM registered_model_tags WHERE name = ? AND key = ?').run(name, key);
      if (info.changes === 0) throw notFound(`No tag with key '${key}' on registered model '${name}'.`);
    });
  }

  async getLatestVersions(name: string, stages: string[]): Promise<ModelVersion[]> {
    this.modelRow(name);
    return this.latestVersions(name, stages);
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    this.write(() => {
      const row = this.versionRow(name, version);
      this.db.prepare('INSERT OR REPLACE INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?)').run(name, alias, row.version);
      this.touchModel(name);
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    this.write(() => {
      this.modelRow(name);
      const info = this.db.prepare('DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?').run(name, alias);
      if (info.changes === 0) throw notFound(`Registered model alias ${alias} not found.`);
      this.touchModel(name);
    });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const hit = this.stmt.aliasVersion.get(name, alias);
    if (!hit) {
      this.modelRow(name);
      throw notFound(`Registered model alias ${alias} not found.`);
    }
    return this.versionToWire(this.versionRow(name, String(hit.version)));
  }

  async createModelVersion(args: { name: string; source: string; runId: string; tags: KeyValue[]; runLink: string; description: string }): Promise<ModelVersion> {
    return this.write(() => {
      this.modelRow(args.name);
      if (args.runId) this.runRow(args.runId);
      const next = (this.db.prepare<[string], { v: number | null }>('SELECT MAX(version) AS v FROM model_versions WHERE name = ?').get(args.name)?.v ?? 0) + 1;
      const now = Date.now();
      this.db
        .prepare(
          'INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, description, user_id, current_stage, source, run_id, run_link, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)',
        )
        .run(args.name, next, now, now, args.description, '', 'None', args.source, args.runId, args.runLink);
      const insert = this.db.prepare('INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)');
      for (const t of args.tags) insert.run(args.name, next, t.key, t.value);
      this.touchModel(args.name, now);
      return this.versionToWire(this.versionRow(args.name, String(next)));
    });
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return this.versionToWire(this.versionRow(name, version));
  }

  async searchModelVersions(args: SearchArgs): Promise<Page<ModelVersion>> {
    const clauses = parseFilter(args.filter);
    const attrs = ['name', 'run_id', 'source_path', 'version_number'];
    for (const c of clauses) {
      if (!(c.entity === 'tag' || (c.entity === 'attribute' && attrs.includes(c.key)))) {
        throw invalidParam(`Invalid filter '${args.filter}': model versions can be filtered by ${attrs.join(', ')} and tags.<key>.`);
      }
    }
    const versions = this.db
      .prepare<[], VersionRow>('SELECT * FROM model_versions WHERE deleted = 0')
      .all()
      .map((r) => this.versionToWire(r))
      .filter((v) =>
        clauses.every((c) => {
          const actual = c.entity === 'tag' ? v.tags.find((t) => t.key === c.key)?.value : c.key === 'source_path' ? v.source : c.key === 'version_number' ? Number(v.version) : (v[c.key as keyof ModelVersion] as string);
          return matchesClause(actual, c);
        }),
      );
    const sortAttrs = ['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp', 'timestamp'];
    const sorted = sortBy(versions, args.orderBy, ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC'], (v, k) => {
      if (k === 'version_number') return Number(v.version);
      if (k === 'timestamp') return v.last_updated_timestamp;
      return v[k as keyof ModelVersion] as string | number;
    }, sortAttrs);
    return page(sorted, args.maxResults, args.pageToken);
  }

  async updateModelVersion(name: string, version: string, description: string): Promise<ModelVersion> {
    return this.write(() => {
      const row = this.versionRow(name, version);
      this.db.prepare('UPDATE model_versions SET description = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?').run(description, Date.now(), name, row.version);
      return this.versionToWire(this.versionRow(name, version));
    });
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    this.write(() => {
      const row = this.versionRow(name, version);
      this.db.prepare('UPDATE model_versions SET deleted = 1, last_updated_timestamp = ? WHERE name = ? AND version = ?').run(Date.now(), name, row.version);
      this.db.prepare('DELETE FROM model_version_tags WHERE name = ? AND version = ?').run(name, row.version);
      this.db.prepare('DELETE FROM registered_model_aliases WHERE name = ? AND version = ?').run(name, row.version);
      this.touchModel(name);
    });
  }

  async transitionStage(name: string, version: string, stage: string, archiveExisting: boolean): Promise<ModelVersion> {
    const target = canonicalStage(stage);
    if (archiveExisting && target !== 'Staging' && target !== 'Production') {
      throw invalidParam(`Model version transition cannot archive existing model versions because '${target}' is not an Active stage. Valid stages are Staging and Production.`);
    }
    return this.write(() => {
      const row = this.versionRow(name, version);
      const now = Date.now();
      if (archiveExisting) {
        this.db
          .prepare("UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = ? WHERE name = ? AND current_stage = ? AND version != ? AND deleted = 0")
          .run(now, name, target, row.version);
      }
      this.db.prepare('UPDATE model_versions SET current_stage = ?, last_updated_timestamp = ? WHERE name = ? AND version = ?').run(target, now, name, row.version);
      this.touchModel(name, now);
      return this.versionToWire(this.versionRow(name, version));
    });
  }

  async setModelVersionTag(name: string, version: string, tag: KeyValue): Promise<void> {
    this.write(() => {
      const row = this.versionRow(name, version);
      this.db.prepare('INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)').run(name, row.version, tag.key, tag.value);
    });
  }

  async deleteModelVersionTag(name: string, version: string, key: string): Promise<void> {
    this.write(() => {
      const row = this.versionRow(name, version);
      const info = this.db.prepare('DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?').run(name, row.version, key);
      if (info.changes === 0) throw notFound(`No tag with key '${key}' on model version (name=${name}, version=${version}).`);
    });
  }
}

/** MLflow accepts stage names case-insensitively and answers with the canonical spelling. */
export function canonicalStage(stage: string): ModelStage {
  const hit = MODEL_STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!hit) throw invalidParam(`Invalid Model Version stage: ${stage}. Value must be one of ${MODEL_STAGES.join(', ')}.`);
  return hit;
}

const RUN_ORDER_ATTRIBUTES: Record<string, string> = {
  start_time: 'start_time',
  created: 'start_time',
  Created: 'start_time',
  end_time: 'end_time',
  run_name: 'name',
  status: 'status',
  user_id: 'user_id',
  run_id: 'run_uuid',
  experiment_id: 'experiment_id',
  artifact_uri: 'artifact_uri',
};

const RUN_STRING_ATTRIBUTES: Record<string, string> = { run_id: 'run_uuid', run_name: 'name', status: 'status', user_id: 'user_id', artifact_uri: 'artifact_uri', lifecycle_stage: 'lifecycle_stage' };
const RUN_NUMERIC_ATTRIBUTES: Record<string, string> = { start_time: 'start_time', end_time: 'end_time', created: 'start_time', Created: 'start_time' };

/** Translates one runs/search clause to SQL over the `runs r` row (values always bound, never spliced). */
function runClauseSql(c: FilterClause): { sql: string; params: (string | number)[]; candidate?: string } {
  const { comparator: op, value } = c;
  const describe = `'${c.entity === 'attribute' ? 'attributes' : c.entity + 's'}.${c.key} ${op}'`;
  const needString = (): string => {
    if (value.kind !== 'string') throw invalidParam(`Invalid filter ${describe}: the value must be a quoted string, e.g. '0.1'.`);
    return value.value;
  };
  const needNumber = (): number => {
    if (value.kind !== 'number') throw invalidParam(`Invalid filter ${describe}: the value must be a number, not a quoted string.`);
    return value.value;
  };
  const stringOp = (column: string): { sql: string; params: (string | number)[] } => {
    switch (op) {
      case '=':
      case '!=':
        return { sql: `${column} ${op} ?`, params: [needString()] };
      case 'LIKE':
        return { sql: `${column} LIKE ?`, params: [needString()] };
      case 'ILIKE':
        return { sql: `LOWER(${column}) LIKE LOWER(?)`, params: [needString()] };
      case 'IN':
      case 'NOT IN': {
        if (value.kind !== 'list') throw invalidParam(`Invalid filter ${describe}: expected a list such as ('a', 'b').`);
        return { sql: `${column} ${op} (${value.value.map(() => '?').join(',')})`, params: value.value };
      }
      default:
        throw invalidParam(`Invalid comparator '${op}' in filter ${describe}: strings support =, !=, LIKE, ILIKE, IN, NOT IN.`);
    }
  };
  const numericOp = (column: string): { sql: string; params: (string | number)[] } => {
    if (!['=', '!=', '>', '>=', '<', '<='].includes(op)) throw invalidParam(`Invalid comparator '${op}' in filter ${describe}: numbers support =, !=, >, >=, <, <=.`);
    return { sql: `${column} ${op} ?`, params: [needNumber()] };
  };
  const table = { metric: 'latest_metrics', param: 'params', tag: 'tags' } as const;
  if (c.entity === 'metric' || c.entity === 'param' || c.entity === 'tag') {
    const t = table[c.entity];
    if (op === 'IS NULL') return { sql: `r.run_uuid NOT IN (SELECT run_uuid FROM ${t} WHERE key = ?)`, params: [c.key] };
    if (op === 'IS NOT NULL') return { sql: '', candidate: `SELECT run_uuid FROM ${t} WHERE key = ?`, params: [c.key] };
    const inner = c.entity === 'metric' ? numericOp('value') : stringOp('value');
    const nan = c.entity === 'metric' ? ' AND is_nan = 0' : '';
    return { sql: '', candidate: `SELECT run_uuid FROM ${t} WHERE key = ?${nan} AND ${inner.sql}`, params: [c.key, ...inner.params] };
  }
  if (c.entity === 'dataset') {
    if (c.key !== 'name' && c.key !== 'digest') throw invalidParam(`Invalid filter ${describe}: datasets can be filtered by name and digest.`);
    const inner = stringOp(c.key);
    return { sql: '', candidate: `SELECT run_uuid FROM run_inputs WHERE ${inner.sql}`, params: inner.params };
  }
  const stringColumn = RUN_STRING_ATTRIBUTES[c.key];
  if (stringColumn) return stringOp(`r.${stringColumn}`);
  const numericColumn = RUN_NUMERIC_ATTRIBUTES[c.key];
  if (numericColumn) {
    if (op === 'IS NULL' || op === 'IS NOT NULL') return { sql: `r.${numericColumn} ${op}`, params: [] };
    return numericOp(`r.${numericColumn}`);
  }
  throw invalidParam(`Invalid attribute key '${c.key}' specified. Valid keys are ${[...Object.keys(RUN_STRING_ATTRIBUTES), ...Object.keys(RUN_NUMERIC_ATTRIBUTES)].join(', ')}.`);
}

export { MlflowError };
