/**
 * The storage interface the HTTP layer talks to. SQLite implements it today; a PostgreSQL store can
 * implement the same interface later, which is why every method is async even though SQLite is not.
 * Arguments are already validated against MLflow's limits by the caller (see server/validation.ts).
 */
import type {
  DatasetInput,
  Experiment,
  KeyValue,
  Metric,
  ModelVersion,
  Page,
  RegisteredModel,
  Run,
  RunInfo,
  RunStatus,
  ViewType,
} from './types.js';

export interface SearchArgs {
  filter?: string;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string;
}

export interface TrackingStore {
  createExperiment(name: string, artifactLocation: string | undefined, tags: KeyValue[]): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment>;
  getExperimentByName(name: string): Promise<Experiment>;
  searchExperiments(args: SearchArgs & { viewType: ViewType }): Promise<Page<Experiment>>;
  renameExperiment(experimentId: string, newName: string): Promise<void>;
  deleteExperiment(experimentId: string): Promise<void>;
  restoreExperiment(experimentId: string): Promise<void>;
  setExperimentTag(experimentId: string, tag: KeyValue): Promise<void>;

  createRun(args: { experimentId: string; userId: string; runName?: string; startTime: number; tags: KeyValue[] }): Promise<Run>;
  getRun(runId: string): Promise<Run>;
  updateRun(runId: string, args: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo>;
  deleteRun(runId: string): Promise<void>;
  restoreRun(runId: string): Promise<void>;
  searchRuns(args: SearchArgs & { experimentIds: string[]; viewType: ViewType }): Promise<Page<Run>>;
  /** Applies every metric, param and tag in one transaction: all or nothing. */
  logBatch(runId: string, batch: { metrics: Metric[]; params: KeyValue[]; tags: KeyValue[] }): Promise<void>;
  deleteTag(runId: string, key: string): Promise<void>;
  logInputs(runId: string, inputs: DatasetInput[]): Promise<void>;
  getMetricHistory(runId: string, key: string, maxResults: number | undefined, pageToken: string | undefined): Promise<Page<Metric>>;
  /**
   * The same page as getMetricHistory, already serialized as a JSON array of MLflow Metric objects.
   * Histories reach 100,000+ points; building that JSON inside the database is several times cheaper.
   */
  getMetricHistoryJson(runId: string, key: string, maxResults: number | undefined, pageToken: string | undefined): Promise<{ json: string; nextPageToken?: string }>;

  createRegisteredModel(name: string, tags: KeyValue[], description: string): Promise<RegisteredModel>;
  getRegisteredModel(name: string): Promise<RegisteredModel>;
  searchRegisteredModels(args: SearchArgs): Promise<Page<RegisteredModel>>;
  renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel>;
  updateRegisteredModel(name: string, description: string): Promise<RegisteredModel>;
  deleteRegisteredModel(name: string): Promise<void>;
  setRegisteredModelTag(name: string, tag: KeyValue): Promise<void>;
  deleteRegisteredModelTag(name: string, key: string): Promise<void>;
  getLatestVersions(name: string, stages: string[]): Promise<ModelVersion[]>;
  setAlias(name: string, alias: string, version: string): Promise<void>;
  deleteAlias(name: string, alias: string): Promise<void>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;

  createModelVersion(args: { name: string; source: string; runId: string; tags: KeyValue[]; runLink: string; description: string }): Promise<ModelVersion>;
  getModelVersion(name: string, version: string): Promise<ModelVersion>;
  searchModelVersions(args: SearchArgs): Promise<Page<ModelVersion>>;
  updateModelVersion(name: string, version: string, description: string): Promise<ModelVersion>;
  deleteModelVersion(name: string, version: string): Promise<void>;
  transitionStage(name: string, version: string, stage: string, archiveExisting: boolean): Promise<ModelVersion>;
  setModelVersionTag(name: string, version: string, tag: KeyValue): Promise<void>;
  deleteModelVersionTag(name: string, version: string, key: string): Promise<void>;

  close(): Promise<void>;
}
