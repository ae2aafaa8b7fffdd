import { TrackingClient, type RunHandle } from '@ringcount/tracking';
import { trainModel, type TrainOptions, type TrainResult } from './trainer.js';

export const DEFAULT_EXPERIMENT = 'ring-count';

export interface TrackedTrainOptions extends TrainOptions {
  /** Tracking server URL; default MLFLOW_TRACKING_URI, else http://127.0.0.1:5000. */
  trackingUri?: string;
  experiment?: string;
  runName?: string;
}

/** Starts a run on the tracking server and trains one model version in it (see `trainModel`). */
export async function trainAndTrack(opts: TrackedTrainOptions): Promise<TrainResult> {
  const client = new TrackingClient({ trackingUri: opts.trackingUri });
  const run: RunHandle = await client.startRun(opts.experiment ?? DEFAULT_EXPERIMENT, {
    runName: opts.runName ?? `${opts.version}-${opts.imageSize}px-${opts.epochs}ep`,
  });
  (opts.log ?? console.log)(`tracking run ${run.runId} in experiment '${opts.experiment ?? DEFAULT_EXPERIMENT}' at ${client.baseUrl}`);
  return trainModel(opts, run);
}
