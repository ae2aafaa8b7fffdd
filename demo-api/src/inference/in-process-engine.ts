import type { PreprocessConfig } from '@ringcount/model-core';
import { imageToModelInput } from '../image-input.js';
import { type BatchingOptions, DynamicBatcher } from './batcher.js';
import type { BatchObserver, InferenceEngine } from './engine.js';
import { type InputShape, type ModelEngineInfo, ModelRunner } from './model-runner.js';

/** Dynamic batching on the main thread: no message passing, but each batch holds the event loop. */
export class InProcessEngine implements InferenceEngine {
  readonly kind = 'in-process' as const;
  private readonly runner = new ModelRunner();
  private readonly batcher: DynamicBatcher<Float32Array, Float32Array>;

  constructor(
    private readonly batching: BatchingOptions,
    onBatch: BatchObserver = () => undefined,
  ) {
    this.batcher = new DynamicBatcher((key, inputs) => {
      for (let i = 0; i < inputs.length; i++) onBatch(inputs.length);
      return this.runner.predictBatch(key, inputs);
    }, batching, (key) => this.runner.prefersBatches(key));
  }

  load(key: string, dir: string, inputShape: InputShape): Promise<ModelEngineInfo> {
    return this.runner.load(key, dir, inputShape);
  }

  async predict(key: string, image: Buffer, preprocessing: PreprocessConfig): Promise<Float32Array> {
    return this.batcher.submit(key, await imageToModelInput(image, preprocessing));
  }

  unload(key: string): Promise<void> {
    this.runner.unload(key);
    return Promise.resolve();
  }

  describe(): Record<string, unknown> {
    return { engine: this.kind, ...this.batching };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
