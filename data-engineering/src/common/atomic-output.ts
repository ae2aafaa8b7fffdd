import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a set of outputs aside and swaps them into place with renames, so an interrupted run never
 * leaves a half-written file or folder where a previous good output was.
 *
 * Outputs are staged in `<dir>/.<tool>-staging-<pid>/` (same filesystem, so renames are atomic per
 * entry). commit() renames each staged entry over its final name, moving a replaced folder aside
 * first and deleting it afterwards; abandon() deletes the staging folder. Staging folders left by a
 * killed process are removed by the next run.
 */
export class StagedOutput {
  readonly stagingDir: string;
  private finished = false;
  private readonly tempFiles: string[] = [];
  private static readonly live = new Set<StagedOutput>();

  /**
   * On Ctrl-C or SIGTERM, delete the staging folders of unfinished outputs and exit (130 / 143).
   * Called once by the CLIs; previous outputs are never touched by an interrupted run.
   */
  static abandonOnSignals(log: (line: string) => void): void {
    const handler = (signal: NodeJS.Signals): void => {
      for (const output of StagedOutput.live) output.abandon();
      log(`interrupted by ${signal}: nothing was replaced`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
  }

  constructor(readonly dir: string, readonly tool: string) {
    fs.mkdirSync(dir, { recursive: true });
    removeStaleStaging(dir, tool);
    this.stagingDir = path.join(dir, `.${tool}-staging-${process.pid}`);
    fs.rmSync(this.stagingDir, { recursive: true, force: true });
    fs.mkdirSync(this.stagingDir);
    StagedOutput.live.add(this);
  }

  /** A temporary file kept outside the staging folder (e.g. beside a log); abandon() deletes it too. */
  trackTempFile(file: string): string {
    this.tempFiles.push(file);
    return file;
  }

  /** Path of an entry inside the staging folder. */
  staged(name: string): string {
    return path.join(this.stagingDir, name);
  }

  /** Moves the named staged entries into `dir`, in the order given (put the index file last). */
  commit(names: readonly string[]): void {
    for (const name of names) {
      const target = path.join(this.dir, name);
      const source = this.staged(name);
      if (fs.statSync(source).isDirectory() && fs.existsSync(target)) {
        // rename() cannot replace a non-empty folder: move the old one into staging, deleted below.
        fs.renameSync(target, path.join(this.stagingDir, `.replaced-${name}`));
      }
      fs.renameSync(source, target);
    }
    this.finished = true;
    StagedOutput.live.delete(this);
    fs.rmSync(this.stagingDir, { recursive: true, force: true });
  }

  /** Drops everything staged; previous outputs stay as they were. */
  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    StagedOutput.live.delete(this);
    fs.rmSync(this.stagingDir, { recursive: true, force: true });
    for (const file of this.tempFiles) fs.rmSync(file, { force: true });
  }
}

/** Removes staging folders of earlier runs of `tool` whose process is gone. */
function removeStaleStaging(dir: string, tool: string): void {
  const prefix = `.${tool}-staging-`;
  for (const entry of fs.readdirSync(dir)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<file>.tmp-<pid>` files left beside `file` by earlier runs whose process is gone. */
export function removeStaleTempFiles(file: string): void {
  const dir = path.dirname(path.resolve(file));
  const prefix = `${path.basename(file)}.tmp-`;
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length));
    if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(dir, entry), { force: true });
  }
}
