/**
 * Headless execution of a TypeScript notebook on the project's tslab kernel, papermill-style:
 * inject parameters, run the code cells in order, stop at the first failing cell, and always write the
 * executed notebook (outputs of every cell that ran; on failure an error banner and an error output).
 *
 * tslab reports a failing cell only by an execute_reply with status "error" and the error text on stderr
 * (never an `error` message), and prints un-awaited rejections later, on whatever cell is current. So each
 * cell is followed by a hidden one-tick flush whose output is attributed back to the cell, and a cell fails
 * when its reply is not "ok" or its stderr reports an uncaught exception or unhandled rejection.
 */
import { dirname, resolve } from 'node:path';
import {
  type Cell, type CellOutput, type CodeCell, type Notebook, type ErrorOutput,
  checkWritable, hasTag, newCellId, readNotebook, sourceText, writeNotebook, NotebookInputError,
} from './notebook-format.js';
import { injectParameters, type ParameterValue } from './parameters.js';
import { KernelSession, KernelStartError, type ExecuteResult } from './kernel-session.js';
import { type RunProgress, LineProgress } from './progress.js';

export const ERROR_BANNER_TAG = 'error-banner';

/** Lets the kernel's event loop turn once, so Node reports a rejection nobody awaited before the next cell. */
const FLUSH_CODE = 'await new Promise((resolve) => setTimeout(resolve, 0));';
/** What tslab's own process handlers print for errors that escaped every cell. */
const ESCAPED_ERROR = /^(UncaughtException|UnhandledPromiseRejection):/m;

export interface RunOptions {
  input: string;
  output: string;
  parameters?: ReadonlyMap<string, ParameterValue>;
  /** Seconds one cell may run; null for no limit. */
  cellTimeoutSec?: number | null;
  /** Seconds the whole run (kernel start included) may take; null for no limit. */
  totalTimeoutSec?: number | null;
  progress?: RunProgress;
  /** Aborting interrupts the running cell and stops the run (a failed result, notebook written). */
  signal?: AbortSignal;
}

export interface CellFailure {
  /** 0-based index of the cell in the executed notebook. */
  cellIndex: number;
  /** e.g. `cell 4 of 9 (id "train", code cell 3 of 6): await trainModel(...)` */
  cellName: string;
  ename: string;
  evalue: string;
}

export interface RunResult {
  ok: boolean;
  outputPath: string;
  /** Present when the run failed: the failing cell, or cellIndex -1 for a failure outside any cell. */
  failure?: CellFailure;
  cellsRun: number;
  kernelStartMs: number;
  totalMs: number;
}

/** Output kinds the kernel may send besides nbformat outputs. */
type KernelOutput = CellOutput | { output_type: 'clear_output'; wait: boolean };

function describeCell(nb: Notebook, index: number): string {
  const cell = nb.cells[index]!;
  const codeCells = nb.cells.filter((c) => c.cell_type === 'code') as Cell[];
  const codeIndex = codeCells.indexOf(cell);
  const lines = sourceText(cell.source).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  // The first line that is code names the cell best; comment-only cells fall back to their first line.
  const first = lines.find((l) => !l.startsWith('//') && !/^[{}()[\];]+$/.test(l)) ?? lines[0] ?? '';
  const id = cell.id ? `id "${cell.id}", ` : '';
  const tags = Array.isArray(cell.metadata.tags) && cell.metadata.tags.length ? `, tags ${cell.metadata.tags.join(',')}` : '';
  return `cell ${index + 1} of ${nb.cells.length} (${id}code cell ${codeIndex + 1} of ${codeCells.length}${tags}): ${first.slice(0, 80)}`;
}

/** Appends an output, merging consecutive text of the same stream as Jupyter does. */
function appendOutput(cell: CodeCell, output: KernelOutput): void {
  if (output.output_type === 'clear_output') {
    cell.outputs = [];
    return;
  }
  const last = cell.outputs[cell.outputs.length - 1];
  if (output.output_type === 'stream' && last?.output_type === 'stream' && last.name === output.name) {
    last.text = sourceText(last.text) + sourceText(output.text);
    return;
  }
  cell.outputs.push(output);
}

function stderrOf(cell: CodeCell): string {
  return cell.outputs.filter((o) => o.output_type === 'stream' && o.name === 'stderr').map((o) => sourceText((o as { text: string }).text)).join('');
}

/** Stack frames of tslab's own executor say nothing about the notebook: drop them. */
const KERNEL_FRAME = /^\s+at .*(node_modules\/tslab\/|node:vm|node:internal|sigintHandlersWrap|node_modules\/commander\/)/;

function withoutKernelFrames(text: string): string[] {
  return text.replace(/\n+$/, '').split('\n').filter((line) => !KERNEL_FRAME.test(line));
}

/** Turns tslab's stderr text into a Jupyter error output (ename/evalue/traceback). */
export function errorFromStderr(stderr: string, fallback: { ename: string; evalue: string }): ErrorOutput {
  const lines = withoutKernelFrames(stderr);
  const diagnostics = lines.filter((l) => /^(\S+ )?\d+:\d+ - /.test(l));
  if (diagnostics.length > 0) {
    return { output_type: 'error', ename: 'TypeScriptError', evalue: diagnostics.join('\n'), traceback: lines };
  }
  const escaped = lines.findIndex((l) => ESCAPED_ERROR.test(l));
  const from = escaped >= 0 ? escaped : 0;
  for (const line of lines.slice(from)) {
    const m = /^(?:(?:UncaughtException|UnhandledPromiseRejection): )?(?:\[)?([A-Za-z_$][\w$]*(?:Error|Exception)|Error)(?: \[[^\]]*\])?: (.*)$/.exec(line);
    if (m) return { output_type: 'error', ename: escaped >= 0 ? `Unawaited ${m[1]!}` : m[1]!, evalue: m[2]!, traceback: lines };
  }
  const text = lines.find((l) => l.trim() !== '');
  return { output_type: 'error', ename: fallback.ename, evalue: text ?? fallback.evalue, traceback: stderr ? lines : [fallback.evalue] };
}

function bannerCell(failure: CellFailure): Cell {
  const where = failure.cellIndex >= 0 ? `at ${failure.cellName.replace(/: .*$/, '')}` : 'before any cell ran';
  return {
    cell_type: 'markdown',
    id: newCellId('error-banner'),
    metadata: { tags: [ERROR_BANNER_TAG] },
    source: [
      `## <span style="color:red">Notebook execution failed ${where}</span>\n`,
      '\n',
      `**${failure.ename}**: ${failure.evalue.split('\n').join('  \n')}\n`,
      ...(failure.cellIndex >= 0 ? ['\n', 'The failing cell shows the full error below its code; cells after it did not run.\n'] : []),
    ],
  };
}

/** Removes what an earlier run added (banner, outputs, counts) so a rerun of an executed notebook is clean. */
function resetNotebook(nb: Notebook): Notebook {
  const cells = nb.cells
    .filter((cell) => !hasTag(cell, ERROR_BANNER_TAG))
    .map((cell): Cell => (cell.cell_type === 'code' ? { ...cell, outputs: [], execution_count: null } : cell));
  return { ...nb, cells };
}

function withFailure(nb: Notebook, failure: CellFailure, error?: ErrorOutput): Notebook {
  if (error && failure.cellIndex >= 0) {
    const cell = nb.cells[failure.cellIndex] as CodeCell;
    // The error output carries the stderr text as its traceback; keep stdout and other outputs as they were.
    cell.outputs = [...cell.outputs.filter((o) => !(o.output_type === 'stream' && o.name === 'stderr')), error];
  }
  return { ...nb, cells: [bannerCell(failure), ...nb.cells] };
}

/**
 * Runs a notebook. Throws NotebookInputError only when the input notebook cannot be read or the output
 * cannot be written; every other
 * problem (bad parameters, kernel start, a failing cell, a timeout) is a failed RunResult with the
 * output notebook written.
 */
export async function runNotebook(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const progress = options.progress ?? new LineProgress();
  const outputPath = resolve(options.output);
  const source = readNotebook(options.input);
  checkWritable(outputPath);
  let nb = resetNotebook(source);
  const fail = (failure: CellFailure, error?: ErrorOutput, kernelStartMs = 0, cellsRun = 0): RunResult => {
    writeNotebook(outputPath, withFailure(nb, failure, error));
    return { ok: false, outputPath, failure, cellsRun, kernelStartMs, totalMs: Date.now() - started };
  };

  try {
    nb = injectParameters(nb, options.parameters ?? new Map());
  } catch (err) {
    if (!(err instanceof NotebookInputError)) throw err;
    return fail({ cellIndex: -1, cellName: 'parameters', ename: 'ParameterError', evalue: err.message });
  }

  const deadline = options.totalTimeoutSec ? started + options.totalTimeoutSec * 1000 : null;
  const cellOfRequest = new Map<string, CodeCell>();
  const partialLines = new Map<string, string>();
  const onOutput = (requestId: string, output: KernelOutput): void => {
    const cell = cellOfRequest.get(requestId);
    if (!cell) return;
    appendOutput(cell, output);
    if (output.output_type === 'stream') {
      // Forward whole lines only; training loops print partial lines while they run.
      const text = (partialLines.get(output.name) ?? '') + sourceText(output.text);
      const lines = text.split('\n');
      partialLines.set(output.name, lines.pop() ?? '');
      for (const line of lines) progress.outputLine(output.name, line);
    }
  };
  const flushPartialLines = (): void => {
    for (const [name, rest] of partialLines) if (rest) progress.outputLine(name, rest);
    partialLines.clear();
  };

  progress.kernelStarting();
  let kernel: KernelSession;
  try {
    const startupSec = deadline ? Math.max(1, (deadline - Date.now()) / 1000) : 60;
    kernel = await KernelSession.start(dirname(resolve(options.input)), onOutput, startupSec);
  } catch (err) {
    progress.stop();
    if (!(err instanceof KernelStartError)) throw err;
    return fail({ cellIndex: -1, cellName: 'kernel', ename: 'KernelStartError', evalue: err.message });
  }
  const kernelStartMs = Date.now() - started;
  const onAbort = (): void => kernel.interrupt();
  options.signal?.addEventListener('abort', onAbort);
  progress.kernelReady(kernelStartMs);

  const steps = nb.cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === 'code' && sourceText(c.source).trim() !== '');
  let cellsRun = 0;
  try {
    for (const [n, { i }] of steps.entries()) {
      const cell = nb.cells[i] as CodeCell;
      const info = { step: n + 1, steps: steps.length, label: describeCell(nb, i).replace(/^.*?\): /, '') };
      const remainingSec = deadline ? (deadline - Date.now()) / 1000 : null;
      const limits = [options.cellTimeoutSec ?? null, remainingSec].filter((x): x is number => x !== null);
      const timeoutSec = limits.length ? Math.max(0.001, Math.min(...limits)) : null;
      const totalLimitBinds = remainingSec !== null && timeoutSec === remainingSec;
      const cellStart = Date.now();
      if (options.signal?.aborted) {
        return fail({ cellIndex: -1, cellName: 'interrupted', ename: 'Interrupted', evalue: `stopped by ${String(options.signal.reason)} before ${describeCell(nb, i)}` },
          undefined, kernelStartMs, cellsRun);
      }
      progress.cellStarted(info);

      const run = kernel.execute(sourceText(cell.source), timeoutSec);
      cellOfRequest.set(run.requestId, cell);
      let result: ExecuteResult = await run.done;
      if (result.status === 'ok') {
        const flush = kernel.execute(FLUSH_CODE, 120); // generous: only a wedged kernel takes long
        cellOfRequest.set(flush.requestId, cell);
        const flushed = await flush.done;
        if (flushed.status === 'kernel_died') result = flushed;
      }
      flushPartialLines();
      cellsRun++;
      cell.execution_count = cellsRun;
      const stderr = stderrOf(cell);
      const escaped = ESCAPED_ERROR.test(stderr);
      const ok = result.status === 'ok' && !escaped;
      progress.cellFinished(info, ok, Date.now() - cellStart, Date.now() - started);
      if (ok) continue;

      const fallback = {
        timeout: { ename: 'CellTimeoutError', evalue: totalLimitBinds
          ? `the run exceeded its total time limit of ${options.totalTimeoutSec}s (--total-timeout) in this cell`
          : `the cell did not finish within ${options.cellTimeoutSec}s (--timeout)` },
        kernel_died: { ename: 'KernelDied', evalue: 'the kernel process exited while running this cell (process.exit()? out of memory?)' },
        abort: { ename: 'ExecutionAborted', evalue: 'the kernel aborted this cell' },
        error: { ename: 'Error', evalue: 'the cell failed (the kernel reported an error without details)' },
        ok: { ename: 'Error', evalue: 'an error escaped this cell' },
      }[result.status];
      const error = result.status === 'timeout' || result.status === 'kernel_died'
        ? { output_type: 'error' as const, ...fallback, traceback: [fallback.evalue, ...(stderr ? withoutKernelFrames(stderr) : [])] }
        : errorFromStderr(stderr, fallback);
      if (options.signal?.aborted) {
        error.ename = 'Interrupted';
        error.evalue = `stopped by ${String(options.signal.reason)} while this cell ran`;
      }
      if (escaped) error.evalue += ' (an un-awaited promise rejected or a callback threw; await it so the failing cell is the one reported)';
      return fail({ cellIndex: i, cellName: describeCell(nb, i), ename: error.ename, evalue: error.evalue }, error, kernelStartMs, cellsRun);
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    progress.stop();
    await kernel.shutdown();
  }
  writeNotebook(outputPath, nb);
  return { ok: true, outputPath, cellsRun, kernelStartMs, totalMs: Date.now() - started };
}
