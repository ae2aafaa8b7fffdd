import { SingleBar, Presets } from 'cli-progress';

/** Progress for long runs: a cli-progress bar on a terminal, plain log lines otherwise. */
export interface Progress {
  increment(by?: number): void;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Where log lines go when there is no terminal. */
  log: (line: string) => void;
  /** Force a mode; by default a bar when stderr is a TTY. */
  tty?: boolean;
  /** Seconds between plain log lines. */
  logEverySeconds?: number;
  /** 'bytes' shows MB instead of a count. */
  unit?: 'items' | 'bytes';
}

export function startProgress(options: ProgressOptions): Progress {
  const tty = options.tty ?? process.stderr.isTTY === true;
  const bytes = options.unit === 'bytes';
  const show = (n: number): string => (bytes ? `${(n / 1e6).toFixed(1)} MB` : String(n));
  if (tty) {
    const bar = new SingleBar(
      {
        format: `${options.label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`,
        stream: process.stderr,
        formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? show(value) : String(value)),
      },
      Presets.shades_classic,
    );
    bar.start(options.total, 0);
    return {
      increment: (by = 1) => bar.increment(by),
      stop: () => bar.stop(),
    };
  }
  const every = (options.logEverySeconds ?? 2) * 1000;
  const started = Date.now();
  let done = 0;
  let lastLog = started;
  return {
    increment: (by = 1) => {
      done += by;
      const now = Date.now();
      if (now - lastLog >= every) {
        lastLog = now;
        const rate = done / Math.max((now - started) / 1000, 1e-3);
        options.log(`${options.label}: ${show(done)}/${show(options.total)} (${show(Math.round(rate))}/s)`);
      }
    },
    stop: () => undefined,
  };
}
