export interface BatchingOptions {
  /** Largest number of inputs run together. */
  maxBatch: number;
  /**
   * How long a lone request may wait for company. 0 = greedy: run as soon as the engine is free and
   * take whatever queued up meanwhile (adds no latency when idle, batches under load).
   */
  maxWaitMs: number;
}

interface Pending<I, O> {
  input: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

/**
 * Dynamic batching per model key: concurrent requests for the same model are run as one batch.
 * `run` gets the inputs of one batch and returns one output per input, in order.
 */
export class DynamicBatcher<I, O> {
  private readonly queues = new Map<string, Pending<I, O>[]>();
  private queued = 0;
  private scheduled = false;
  private running = false;

  /** `waits(key)`: whether a lone request for this model should wait `maxWaitMs` for company (default: yes). */
  constructor(
    private readonly run: (key: string, inputs: I[]) => O[] | Promise<O[]>,
    private readonly options: BatchingOptions,
    private readonly waits: (key: string) => boolean = () => true,
  ) {}

  submit(key: string, input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = []));
      queue.push({ input, resolve, reject });
      this.queued++;
      this.schedule(false);
    });
  }

  private schedule(afterRun: boolean): void {
    if (this.scheduled || this.running || this.queued === 0) return;
    this.scheduled = true;
    const key = this.fullestKey();
    const wait = afterRun || this.queued >= this.options.maxBatch || (key !== undefined && !this.waits(key)) ? 0 : this.options.maxWaitMs;
    // setImmediate lets messages and I/O that arrived during the last batch queue up first.
    const fire = (): void => {
      this.scheduled = false;
      void this.flush();
    };
    if (wait > 0) setTimeout(fire, wait);
    else setImmediate(fire);
  }

  private async flush(): Promise<void> {
    const key = this.fullestKey();
    if (key === undefined) return;
    const queue = this.queues.get(key) ?? [];
    const batch = queue.splice(0, this.options.maxBatch);
    if (queue.length === 0) this.queues.delete(key);
    this.queued -= batch.length;
    this.running = true;
    try {
      const outputs = await this.run(key, batch.map((p) => p.input));
      if (outputs.length !== batch.length) throw new Error(`model returned ${outputs.length} outputs for ${batch.length} inputs`);
      batch.forEach((p, i) => p.resolve(outputs[i] as O));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.running = false;
      this.schedule(true);
    }
  }

  private fullestKey(): string | undefined {
    let best: string | undefined;
    let size = 0;
    for (const [key, queue] of this.queues) {
      if (queue.length > size) [best, size] = [key, queue.length];
    }
    return best;
  }
}
