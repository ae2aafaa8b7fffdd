/** Progress of a headless notebook run: a bar on a TTY, plain log lines otherwise (CI logs). */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface CellProgress {
  /** 1-based position among the code cells that run, and their count. */
  step: number;
  steps: number;
  label: string;
}

export interface RunProgress {
  kernelStarting(): void;
  kernelReady(ms: number): void;
  cellStarted(cell: CellProgress): void;
  /** A complete line of the cell's stdout/stderr. */
  outputLine(stream: string, line: string): void;
  cellFinished(cell: CellProgress, ok: boolean, cellMs: number, totalMs: number): void;
  stop(): void;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function firstLine(label: string): string {
  return label.length > 60 ? `${label.slice(0, 57)}...` : label;
}

/** Plain lines, one per event: readable in CI logs and when piped. */
export class LineProgress implements RunProgress {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n')) {}
  kernelStarting(): void { this.write('[notebook] starting the tslab kernel...'); }
  kernelReady(ms: number): void { this.write(`[notebook] kernel ready in ${seconds(ms)}`); }
  cellStarted(cell: CellProgress): void { this.write(`[notebook] cell ${cell.step}/${cell.steps} started: ${firstLine(cell.label)}`); }
  outputLine(stream: string, line: string): void { this.write(stream === 'stderr' ? `  ! ${line}` : `  | ${line}`); }
  cellFinished(cell: CellProgress, ok: boolean, cellMs: number, totalMs: number): void {
    this.write(`[notebook] cell ${cell.step}/${cell.steps} ${ok ? 'done' : 'FAILED'} in ${seconds(cellMs)} (elapsed ${seconds(totalMs)})`);
  }
  stop(): void {}
}

/** A cli-progress bar over the code cells; cell output is printed above the bar. */
export class BarProgress implements RunProgress {
  private readonly multi = new MultiBar({
    format: 'cell {value}/{total} [{bar}] {duration_formatted} | {label}',
    hideCursor: true,
    clearOnComplete: false,
    stream: process.stdout,
  }, Presets.shades_classic);
  private bar: SingleBar | null = null;

  kernelStarting(): void { this.multi.log('[notebook] starting the tslab kernel...\n'); }
  kernelReady(ms: number): void { this.multi.log(`[notebook] kernel ready in ${seconds(ms)}\n`); }
  cellStarted(cell: CellProgress): void {
    this.bar ??= this.multi.create(cell.steps, 0, { label: '' });
    this.bar.update(cell.step - 1, { label: firstLine(cell.label) });
  }
  outputLine(stream: string, line: string): void { this.multi.log(`${stream === 'stderr' ? '! ' : '| '}${line}\n`); }
  cellFinished(cell: CellProgress, ok: boolean, cellMs: number, totalMs: number): void {
    if (!ok) this.multi.log(`[notebook] cell ${cell.step}/${cell.steps} FAILED after ${seconds(cellMs)} (elapsed ${seconds(totalMs)})\n`);
    this.bar?.update(ok ? cell.step : cell.step - 1);
  }
  stop(): void { this.multi.stop(); }
}

export function defaultProgress(): RunProgress {
  return process.stdout.isTTY ? new BarProgress() : new LineProgress();
}
