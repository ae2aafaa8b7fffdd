/**
 * A running Jupyter kernel, driven through kernel_bridge.py (jupyter_client under Debian's python).
 * The kernel is the project's own tslab, via a private kernel spec, whatever is registered globally.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { CellOutput } from './notebook-format.js';

/** Debian's Jupyter lives under this interpreter; the default `python3` here is a separate pyenv build. */
export const SYSTEM_PYTHON = process.env['RINGCOUNT_JUPYTER_PYTHON'] ?? '/usr/bin/python3';

/** data-science/ (this file compiles to data-science/dist/src/notebook/). */
export const WORKSPACE_DIR = resolve(__dirname, '../../..');
export const REPO_DIR = resolve(WORKSPACE_DIR, '..');
const BRIDGE_SCRIPT = join(WORKSPACE_DIR, 'src/notebook/kernel_bridge.py');

export function projectTslabBin(): string {
  return join(REPO_DIR, 'node_modules/.bin/tslab');
}

/**
 * Writes a Jupyter data dir holding a `tslab` kernel spec that starts this checkout's tslab; putting it
 * first in JUPYTER_PATH makes Jupyter use it whatever tslab is registered globally. Returns the dir.
 */
export function writeProjectKernelSpec(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ringcount-kernelspec-'));
  mkdirSync(join(dir, 'kernels/tslab'), { recursive: true });
  writeFileSync(join(dir, 'kernels/tslab/kernel.json'), JSON.stringify({
    argv: [projectTslabBin(), 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript',
    language: 'typescript',
  }));
  return dir;
}

export type ExecuteStatus = 'ok' | 'error' | 'abort' | 'timeout' | 'kernel_died';
export interface ExecuteResult { status: ExecuteStatus; executionCount: number | null }

type BridgeEvent =
  | { event: 'ready' }
  | { event: 'output'; id: string; output: CellOutput | { output_type: 'clear_output'; wait: boolean } }
  | { event: 'done'; id: string; status: 'ok' | 'error' | 'abort' | 'timeout'; execution_count: number | null }
  | { event: 'kernel_died'; id: string | null }
  | { event: 'fatal'; message: string };

/** The kernel could not be started or the bridge failed: the message says what to do. */
export class KernelStartError extends Error {
  override name = 'KernelStartError';
}

export type OutputListener = (requestId: string, output: CellOutput | { output_type: 'clear_output'; wait: boolean }) => void;

export class KernelSession {
  private readonly pending = new Map<string, (result: ExecuteResult) => void>();
  private nextId = 0;
  private exited = false;
  private readonly stderrTail: string[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly specDir: string,
    private readonly onOutput: OutputListener,
  ) {}

  /** Starts the project's tslab kernel with `cwd` as its working directory (Jupyter uses the notebook's folder). */
  static async start(cwd: string, onOutput: OutputListener, startupTimeoutSec = 60): Promise<KernelSession> {
    if (!existsSync(SYSTEM_PYTHON)) {
      throw new KernelStartError(`${SYSTEM_PYTHON} not found: install Debian's jupyter-client (npm run notebook:setup)`);
    }
    const tslab = projectTslabBin();
    if (!existsSync(tslab)) throw new KernelStartError(`${tslab} not found: run npm ci`);
    const specDir = writeProjectKernelSpec();
    const child = spawn(SYSTEM_PYTHON, [BRIDGE_SCRIPT, '--kernel', 'tslab', '--cwd', cwd, '--startup-timeout', String(startupTimeoutSec)], {
      // JUPYTER_PATH comes first in the kernel spec search, so this checkout's tslab is used.
      env: { ...process.env, JUPYTER_PATH: specDir, PYDEVD_DISABLE_FILE_VALIDATION: '1', PYTHONUNBUFFERED: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl+C reaches only the runner, which interrupts the cell itself.
      detached: true,
    });
    const session = new KernelSession(child, specDir, onOutput);
    return session.waitReady();
  }

  private waitReady(): Promise<KernelSession> {
    return new Promise((resolveReady, rejectReady) => {
      let ready = false;
      this.child.stderr.setEncoding('utf8');
      this.child.stderr.on('data', (chunk: string) => {
        this.stderrTail.push(chunk);
        if (this.stderrTail.length > 50) this.stderrTail.shift();
      });
      this.child.on('error', (err) => rejectReady(new KernelStartError(`cannot run ${SYSTEM_PYTHON}: ${err.message}`)));
      this.child.on('exit', (code) => {
        this.exited = true;
        rmSync(this.specDir, { recursive: true, force: true });
        if (!ready) rejectReady(new KernelStartError(`the kernel bridge exited (code ${code}) before the kernel was ready:\n${this.stderrText()}`));
        for (const [, settle] of this.pending) settle({ status: 'kernel_died', executionCount: null });
        this.pending.clear();
      });
      createInterface({ input: this.child.stdout }).on('line', (line) => {
        let event: BridgeEvent;
        try {
          event = JSON.parse(line) as BridgeEvent;
        } catch {
          this.stderrTail.push(line + '\n'); // a stray print from a library: keep it for diagnostics
          return;
        }
        switch (event.event) {
          case 'ready': ready = true; resolveReady(this); break;
          case 'fatal': rejectReady(new KernelStartError(event.message)); break;
          case 'output': this.onOutput(event.id, event.output); break;
          case 'done': this.settle(event.id, { status: event.status, executionCount: event.execution_count }); break;
          case 'kernel_died':
            if (event.id !== null) this.settle(event.id, { status: 'kernel_died', executionCount: null });
            break;
        }
      });
    });
  }

  private settle(id: string, result: ExecuteResult): void {
    const settle = this.pending.get(id);
    this.pending.delete(id);
    settle?.(result);
  }

  /** The bridge's own diagnostics (not the kernel's output), for error messages. */
  stderrText(): string {
    return this.stderrTail.join('').replace(/^.*(Debugger warning|frozen modules|PYDEVD|Note: Debugging).*\n?/gm, '').trim();
  }

  /** Runs code; the returned request id matches the ids given to the output listener. */
  execute(code: string, timeoutSec: number | null): { requestId: string; done: Promise<ExecuteResult> } {
    const requestId = `r${++this.nextId}`;
    if (this.exited) return { requestId, done: Promise.resolve({ status: 'kernel_died', executionCount: null }) };
    const done = new Promise<ExecuteResult>((res) => this.pending.set(requestId, res));
    this.child.stdin.write(JSON.stringify({ op: 'execute', id: requestId, code, timeout: timeoutSec }) + '\n');
    return { requestId, done };
  }

  /** Interrupts the running cell (tslab rejects its pending await or breaks its loop). */
  interrupt(): void {
    if (!this.exited) this.child.stdin.write(JSON.stringify({ op: 'interrupt' }) + '\n');
  }

  /** Shuts the kernel down (draining late output first) and waits for the bridge to exit. */
  async shutdown(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((res) => this.child.once('exit', () => res()));
    this.child.stdin.end(JSON.stringify({ op: 'shutdown' }) + '\n');
    const killTimer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killTimer);
  }
}
