import type { PreprocessConfig } from '@ringcount/model-core';
import type { InputShape, ModelEngineInfo } from './model-runner.js';

export type EngineKind = 'workers' | 'in-process';

/** Called once per prediction with the size of the batch it ran in (for the batch-size metric). */
export type BatchObserver = (size: number) => void;

/**
 * Runs model predictions. Models are addressed by a key (the registry version number) so several
 * versions can be loaded at once: the live one, the one being swapped in, and pinned ones.
 */
export interface InferenceEngine {
  readonly kind: EngineKind;
  /** Loads and warms the model in `dir` (already verified) under `key`; says which engine runs it. */
  load(key: string, dir: string, inputShape: InputShape): Promise<ModelEngineInfo>;
  /**
   * One uploaded image (format already sniffed) → raw model output for it. The engine preprocesses
   * it with `preprocessing` (the model's saved config), where the model runs: client mistakes found
   * while decoding reject with an `ApiError` (400/413).
   */
  predict(key: string, image: Buffer, preprocessing: PreprocessConfig): Promise<Float32Array>;
  unload(key: string): Promise<void>;
  describe(): Record<string, unknown>;
  close(): Promise<void>;
}
