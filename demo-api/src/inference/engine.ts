import type { InputShape } from './model-runner.js';

export type EngineKind = 'workers' | 'in-process';

/** Called once per prediction with the size of the batch it ran in (for the batch-size metric). */
export type BatchObserver = (size: number) => void;

/**
 * Runs model predictions. Models are addressed by a key (the registry version number) so several
 * versions can be loaded at once: the live one, the one being swapped in, and pinned ones.
 */
export interface InferenceEngine {
  readonly kind: EngineKind;
  /** Loads and warms the model in `dir` (already verified) under `key`. */
  load(key: string, dir: string, inputShape: InputShape): Promise<void>;
  /** One input (already preprocessed) → raw model output for it. */
  predict(key: string, input: Float32Array): Promise<Float32Array>;
  unload(key: string): Promise<void>;
  describe(): Record<string, unknown>;
  close(): Promise<void>;
}
