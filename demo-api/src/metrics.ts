import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one API instance (its own registry, so several instances can coexist in tests). */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'ringcount_api_requests_total',
    help: 'HTTP requests by route, method, status and the model version that served them ("none" when no model was involved)',
    labelNames: ['route', 'method', 'status', 'version'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'ringcount_api_request_duration_seconds',
    help: 'HTTP request latency by route and model version',
    labelNames: ['route', 'method', 'version'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly predictions = new Counter({
    name: 'ringcount_predictions_total',
    help: 'Predicted ring counts per model version (their distribution over time shows drift)',
    labelNames: ['version', 'n_rings'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'ringcount_inference_batch_size',
    help: 'Size of the dynamic batch each prediction ran in',
    buckets: [1, 2, 4, 8, 16, 32],
    registers: [this.registry],
  });
  readonly liveVersion = new Gauge({
    name: 'ringcount_live_model_info',
    help: '1 for the model version currently serving /predict/',
    labelNames: ['version', 'registry_version'] as const,
    registers: [this.registry],
  });
  readonly liveEngine = new Gauge({
    name: 'ringcount_live_model_engine_info',
    help: '1 for the engine running the live model version: onnxruntime, or tfjs when ONNX Runtime is unavailable, disabled or could not convert it',
    labelNames: ['version', 'engine'] as const,
    registers: [this.registry],
  });
  readonly swaps = new Counter({ name: 'ringcount_model_swaps_total', help: 'Live model swaps', registers: [this.registry] });
  readonly refusals = new Counter({
    name: 'ringcount_model_refusals_total',
    help: 'Versions refused because they failed to download, verify or load',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  setLive(label: string, registryVersion: string, engine: string): void {
    this.liveVersion.reset();
    this.liveVersion.set({ version: label, registry_version: registryVersion }, 1);
    this.liveEngine.reset();
    this.liveEngine.set({ version: label, engine }, 1);
  }
}
