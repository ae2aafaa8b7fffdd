import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A long-running child process (tracking server, API, Jupyter) with its own log file. */
export interface Service {
  name: string;
  child: ChildProcess;
  logFile: string;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** Fails with a message naming the service when something already listens on its port. */
export async function assertPortFree(port: number, host: string, serviceName: string, envVar: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new PortInUseError(`port ${port} (${serviceName}) is already in use: stop whatever listens there or set ${envVar} to another port`));
      } else reject(err);
    });
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/**
 * Starts a child in its own process group (so Jupyter's kernels and other grandchildren stop with it),
 * its stdout and stderr appended to `logs/<name>.log`.
 */
export function startService(name: string, command: string, args: string[], opts: { cwd: string; logDir: string; env?: NodeJS.ProcessEnv }): Service {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  log.write(`\n--- ${new Date().toISOString()} starting ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  return { name, child, logFile };
}

/** Last lines of a log, for error messages. */
export function tailLog(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `url` until it answers 2xx; fails early if the service exits, or after `timeoutMs`. */
export async function waitForHttp(service: Service, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      throw new Error(`${service.name} exited before it was ready (see ${service.logFile}):\n${tailLog(service.logFile)}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${service.name} did not answer ${url} within ${Math.round(timeoutMs / 1000)} s (see ${service.logFile}):\n${tailLog(service.logFile)}`);
}

/** SIGTERM to each service's process group, SIGKILL to whatever is left after `graceMs`. */
export async function stopServices(services: Service[], graceMs = 8000): Promise<void> {
  const running = services.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
  const exited = running.map((s) => new Promise<void>((resolve) => s.child.once('exit', () => resolve())));
  for (const s of running) signalGroup(s, 'SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([Promise.all(exited), timer])) === 'timeout') {
    for (const s of running) signalGroup(s, 'SIGKILL');
    await Promise.all(exited);
  }
  // Grandchildren (e.g. Jupyter kernels) share the group: make sure none outlive their parent.
  for (const s of running) signalGroup(s, 'SIGKILL');
}

function signalGroup(s: Service, signal: NodeJS.Signals): void {
  if (s.child.pid === undefined) return;
  try {
    process.kill(-s.child.pid, signal);
  } catch {
    // group already gone
  }
}

/** Step commands still running, so a shutdown can stop them too. */
export const runningSteps = new Set<ChildProcess>();

/** Runs a command to completion, streaming its output to ours; rejects on a non-zero exit. */
export async function runStep(command: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'inherit', 'inherit'] });
  runningSteps.add(child);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) throw new Error(`'${[command, ...args].join(' ')}' failed (exit code ${String(code)})`);
  } finally {
    runningSteps.delete(child);
  }
}
