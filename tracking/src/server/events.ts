/**
 * Registry change feed for `GET /api/2.0/ringcount/events` (not part of MLflow): a long-poll that lets a
 * serving process learn of a new alias or stage within milliseconds instead of polling the alias endpoint.
 * Events live in memory (the last 1,000); a client that falls behind, or sees `reset`, re-reads the alias.
 */
export interface RegistryEvent {
  seq: number;
  time: number;
  type: 'alias_set' | 'alias_deleted' | 'version_created' | 'version_deleted' | 'stage_transitioned' | 'model_renamed' | 'model_deleted';
  name: string;
  version?: string;
  alias?: string;
  stage?: string;
  new_name?: string;
}

type Waiter = () => void;

export class RegistryEventHub {
  private seq = 0;
  private readonly buffer: RegistryEvent[] = [];
  private waiters = new Set<Waiter>();
  /** Distinguishes restarts: sequence numbers start again at 0 in a new server process. */
  readonly epoch = `${Date.now().toString(36)}`;

  publish(event: Omit<RegistryEvent, 'seq' | 'time'>): void {
    this.seq += 1;
    this.buffer.push({ ...event, seq: this.seq, time: Date.now() });
    if (this.buffer.length > 1000) this.buffer.shift();
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Events after `after`; `reset` when some were already dropped from memory (or after a restart). */
  since(after: number): { events: RegistryEvent[]; reset: boolean } {
    const oldest = this.buffer[0]?.seq ?? this.seq + 1;
    const reset = after > this.seq || (after + 1 < oldest && after < this.seq);
    return { events: this.buffer.filter((e) => e.seq > after), reset };
  }

  /** Resolves when an event is published, after `timeoutMs`, or when `signal` aborts. */
  wait(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal.addEventListener('abort', done);
    });
  }

  /** Wakes every waiter (server shutdown). */
  releaseAll(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }
}
