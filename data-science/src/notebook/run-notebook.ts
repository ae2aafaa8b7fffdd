/**
 * `npm run notebook:run -- <notebook.ipynb> [-p name=value ...] [-o executed.ipynb] [--timeout s] [--total-timeout s]`
 * Exit codes: 0 every cell ran; 1 a cell (or the kernel) failed; 2 bad command line, parameters or notebook file;
 * 130 interrupted (Ctrl+C / SIGTERM).
 */
import { basename, join, resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runNotebook } from './execute-notebook.js';
import { NotebookInputError } from './notebook-format.js';
import { parseParameterArg, type ParameterValue } from './parameters.js';
import { defaultProgress } from './progress.js';
import { REPO_DIR } from './kernel-session.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

function parseSeconds(name: string, value: unknown): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new NotebookInputError(`--${name} must be a positive number of seconds, got "${String(value)}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const args = await yargs(argv)
    .scriptName('npm run notebook:run --')
    .usage('$0 <notebook.ipynb> [-p name=value ...] [-o executed.ipynb]')
    .command('$0 <notebook>', 'run a TypeScript notebook headless on the tslab kernel')
    .positional('notebook', { type: 'string', describe: 'the .ipynb file to run' })
    .option('p', { alias: 'parameter', type: 'string', array: true, default: [] as string[],
      describe: 'name=value (JSON when it parses: 3, true, "x"; else a string); assigned after the cell tagged "parameters"' })
    .option('o', { alias: 'output', type: 'string', describe: 'where to write the executed notebook (default logs/<name>.executed.ipynb)' })
    .option('timeout', { type: 'number', describe: 'seconds one cell may run (default: no limit)' })
    .option('total-timeout', { type: 'number', describe: 'seconds the whole run may take (default: no limit)' })
    .example('$0 data-science/train.ipynb -p epochs=3 -p version=v2 -o logs/train-v2.ipynb', '')
    .strict()
    .help()
    .fail((msg, err) => {
      throw err ?? new NotebookInputError(`${msg}\nusage: npm run notebook:run -- <notebook.ipynb> [-p name=value ...] [-o executed.ipynb] (--help for all options)`);
    })
    .parseAsync();

  // npm runs scripts from the repository root; paths are meant relative to where the user typed the command.
  const userDir = process.env['INIT_CWD'] ?? process.cwd();
  const notebook = resolve(userDir, args.notebook!);
  const parameters = new Map<string, ParameterValue>();
  for (const p of args.p) {
    const [name, value] = parseParameterArg(p);
    parameters.set(name, value);
  }
  const output = args.o ? resolve(userDir, args.o) : join(REPO_DIR, 'logs', basename(notebook).replace(/\.ipynb$/, '') + '.executed.ipynb');
  const result = await runNotebook({
    input: notebook,
    output,
    parameters,
    cellTimeoutSec: parseSeconds('timeout', args.timeout),
    totalTimeoutSec: parseSeconds('total-timeout', args['total-timeout']),
    progress: defaultProgress(),
    signal: interruption.signal,
  });
  const total = `${(result.totalMs / 1000).toFixed(1)}s (kernel start ${(result.kernelStartMs / 1000).toFixed(1)}s)`;
  if (result.ok) {
    console.log(`[notebook] ${result.cellsRun} cells ran in ${total}; executed notebook: ${result.outputPath}`);
    return 0;
  }
  const f = result.failure!;
  console.error(`[notebook] FAILED ${f.cellIndex >= 0 ? `at ${f.cellName}` : `(${f.cellName})`}`);
  console.error(`[notebook] ${f.ename}: ${f.evalue}`);
  console.error(`[notebook] executed notebook with the error: ${result.outputPath}`);
  if (f.ename === 'Interrupted') return EXIT_INTERRUPTED;
  return f.ename === 'ParameterError' ? EXIT_USAGE : EXIT_FAILED;
}

/** First Ctrl+C/SIGTERM: interrupt the running cell, write the notebook, exit 130. Second: exit now. */
const interruption = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interruption.signal.aborted) process.exit(130);
    console.error(`[notebook] ${signal}: interrupting the running cell (again to quit at once)`);
    interruption.abort(signal);
  });
}

main(hideBin(process.argv)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof NotebookInputError) {
      console.error(`notebook:run: ${err.message}`);
      process.exitCode = EXIT_USAGE;
    } else {
      console.error('notebook:run: unexpected error:', err);
      process.exitCode = EXIT_FAILED;
    }
  },
);
