/**
 * What training needs from experiment tracking. `trackingRunLogger` implements it with the
 * `@ringcount/tracking` client (MLflow-compatible); keeping the trainer to this small surface keeps
 * the training loop readable.
 */
export interface RunLogger {
  readonly runId: string;
  readonly experimentId: string;
  logParams(params: Record<string, string | number | boolean | undefined>): Promise<void>;
  setTags(tags: Record<string, string>): Promise<void>;
  logMetrics(metrics: Record<string, number>, step: number): Promise<void>;
  /** Uploads one file to `artifactPath` (a path inside the run's artifacts, e.g. `plots/curves.png`). */
  logArtifact(localFile: string, artifactPath: string): Promise<void>;
  /** Uploads every file of `localDir` under `artifactDir` (e.g. `model`). */
  logArtifactDir(localDir: string, artifactDir: string): Promise<void>;
  end(status: 'FINISHED' | 'FAILED'): Promise<void>;
  /** Registers `artifactDir` of this run as a new version of `name`; returns the version number. */
  registerModel(name: string, artifactDir: string, tags: Record<string, string>): Promise<string>;
}
