import os from 'node:os';
import path from 'node:path';
import type { EngineKind } from './inference/engine.js';

export interface ApiConfig {
  port: number;
  host: string;
  trackingUri: string;
  modelName: string;
  /** Registry alias that names the version to serve. */
  aliasName: string;
  cacheDir: string;
  maxBodyBytes: number;
  /** How often the registry alias is checked (the API follows a promotion within about this long). */
  pollIntervalMs: number;
  engine: EngineKind;
  workers: number;
  maxBatch: number;
  maxWaitMs: number;
  /** Versions kept loaded besides the live one (pinned or prepared). */
  maxStandby: number;
  log: (line: string) => void;
}

export const DEMO_API_ROOT = path.resolve(__dirname, '..', '..');

export function defaultConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return {
    port: Number(process.env.API_PORT ?? 8000),
    host: '127.0.0.1',
    trackingUri: process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000',
    modelName: 'ring-counter',
    aliasName: 'production',
    cacheDir: path.join(DEMO_API_ROOT, '.model-cache'),
    maxBodyBytes: 5 * 1024 * 1024,
    pollIntervalMs: 500,
    engine: 'workers',
    workers: Math.max(1, Math.min(4, os.availableParallelism())),
    maxBatch: 16,
    maxWaitMs: 3,
    maxStandby: 2,
    log: (line) => console.log(`${new Date().toISOString()} demo-api: ${line}`),
    ...overrides,
  };
}
