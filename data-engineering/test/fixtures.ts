import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateDataset, type GenerateResult } from '../src/generate/generate.js';

/** Small generated set shared by the test files: 20 compounds (plus the bad records), seed 7. */
export const FIXTURE_SEED = 7;
export const FIXTURE_COUNT = 20;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcount-de-test-'));
let fixture: Promise<{ dir: string; result: GenerateResult }> | undefined;

export function fixtureSet(): Promise<{ dir: string; result: GenerateResult }> {
  fixture ??= (async () => {
    const dir = path.join(root, 'raw');
    const result = await generateDataset({ count: FIXTURE_COUNT, seed: FIXTURE_SEED, out: dir, log: () => undefined, tty: false });
    return { dir, result };
  })();
  return fixture;
}

/** A fresh empty folder under the test root. */
export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(root, `${name}-`));
}

/** Copies a folder (the fixture) so a test can modify it. */
export function copyDir(from: string, name: string): string {
  const to = tempDir(name);
  fs.cpSync(from, to, { recursive: true });
  return to;
}

export const distSrc = path.resolve(__dirname, '..', 'src');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one of the package's CLIs as a real child process. */
export function runCli(script: 'ingest' | 'generate', args: string[], cwd = root): CliResult {
  const child = spawnSync(process.execPath, [path.join(distSrc, script, 'cli.js'), ...args], { cwd, encoding: 'utf8' });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * Starts the ingest CLI paused just before it swaps its outputs in (INGEST_PAUSE_BEFORE_COMMIT) and
 * resolves once it has staged everything, so a test can interrupt it at that exact point.
 */
export function startPausedIngest(args: string[]): Promise<{ child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> }> {
  const child = spawn(process.execPath, [path.join(distSrc, 'ingest', 'cli.js'), ...args], {
    cwd: root, env: { ...process.env, INGEST_PAUSE_BEFORE_COMMIT: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (data: Buffer) => {
      stderr += data.toString();
      if (stderr.includes('paused before commit')) resolve({ child, exit });
    });
    void exit.then(({ stderr: text }) => reject(new Error(`ingest exited before pausing: ${text}`)));
  });
}

/** SHA-256 of every file under `dir`, keyed by relative path: compares folders byte for byte. */
export function folderHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) walk(rel);
      else out[rel] = createHash('sha256').update(fs.readFileSync(path.join(dir, rel))).digest('hex');
    }
  };
  walk('');
  return out;
}

after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});
