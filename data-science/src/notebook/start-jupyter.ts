/**
 * `npm run notebook [-- --port 8888 --ip 127.0.0.1 --token T --skip-setup]`
 * Ensures the host setup (Debian Jupyter + tslab kernel), starts Debian's Jupyter Notebook rooted at
 * data-science/, waits until it answers, prints the URL with its token and writes it to logs/jupyter-url.txt.
 * Ctrl+C / SIGTERM stop Jupyter too. Exit codes: 0 stopped on request; 1 Jupyter failed; 2 setup or port problem.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { REPO_DIR, SYSTEM_PYTHON, WORKSPACE_DIR, writeProjectKernelSpec } from './kernel-session.js';

class StartError extends Error {
  constructor(message: string, readonly exitCode: number) { super(message); }
}

/** Resolves when the port can be bound on that address; rejects with a StartError naming it otherwise. */
function checkPortFree(ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(new StartError(err.code === 'EADDRINUSE'
        ? `port ${port} on ${ip} is already in use (another Jupyter? see logs/jupyter-url.txt, or \`ss -ltnp 'sport = :${port}'\`); ` +
          `stop it or choose another port: npm run notebook -- --port ${port + 1}  (or JUPYTER_PORT=${port + 1})`
        : `cannot listen on ${ip}:${port}: ${err.message}`, 2));
    });
    probe.listen({ host: ip, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function runSetup(): void {
  const setup = spawnSync('bash', [join(REPO_DIR, 'scripts/setup-system.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) {
    throw new StartError(`host setup failed (scripts/setup-system.sh exited ${setup.status ?? setup.signal}); fix what it printed, then retry`, 2);
  }
}

async function answers(url: string, token: string): Promise<boolean> {
  try {
    const res = await fetch(url, { headers: { Authorization: `token ${token}` }, signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const envPort = process.env['JUPYTER_PORT'];
  const args = await yargs(hideBin(process.argv))
    .scriptName('npm run notebook --')
    .option('port', { type: 'number', default: envPort ? Number(envPort) : 8888, describe: 'port (env JUPYTER_PORT)' })
    .option('ip', { type: 'string', default: '127.0.0.1', describe: 'address to listen on; 0.0.0.0 inside a container' })
    .option('token', { type: 'string', describe: 'access token (env JUPYTER_TOKEN; default: a new random token)' })
    .option('url-file', { type: 'string', default: join(REPO_DIR, 'logs/jupyter-url.txt'), describe: 'where to write the URL' })
    .option('skip-setup', { type: 'boolean', default: false, describe: 'do not run scripts/setup-system.sh first' })
    .option('startup-timeout', { type: 'number', default: 90, describe: 'seconds to wait for Jupyter to answer' })
    .strict()
    .help()
    .fail((msg, err) => { throw err ?? new StartError(`${msg} (npm run notebook -- --help lists the options)`, 2); })
    .parseAsync();
  if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) {
    throw new StartError(`--port must be an integer from 1 to 65535, got ${String(args.port)}`, 2);
  }
  const token = args.token ?? process.env['JUPYTER_TOKEN'] ?? randomBytes(24).toString('hex');

  if (!args['skip-setup']) runSetup();
  await checkPortFree(args.ip, args.port);

  const jupyterArgs = ['-m', 'notebook', '--no-browser', `--ip=${args.ip}`, `--port=${args.port}`, '--port-retries=0',
    `--notebook-dir=${WORKSPACE_DIR}`];
  if (process.getuid?.() === 0) jupyterArgs.push('--allow-root'); // containers run as root
  const specDir = writeProjectKernelSpec();
  const jupyter = spawn(SYSTEM_PYTHON, jupyterArgs, {
    // The token goes by environment, not argv, so `ps` does not show it. Own process group: a terminal's
    // Ctrl+C reaches only us, and we stop Jupyter with SIGTERM (SIGINT makes it ask for confirmation).
    env: { ...process.env, JUPYTER_TOKEN: token, JUPYTER_PATH: specDir, PYDEVD_DISABLE_FILE_VALIDATION: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  const exited = new Promise<number>((resolve) => jupyter.once('exit', (code, signal) => resolve(code ?? (signal ? 0 : 1))));
  jupyter.once('error', (err) => console.error(`notebook: cannot run ${SYSTEM_PYTHON}: ${err.message}`));
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\nnotebook: ${signal} received, stopping Jupyter...`);
    jupyter.kill('SIGTERM');
    setTimeout(() => jupyter.kill('SIGKILL'), 10_000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const cleanup = (): void => {
    rmSync(specDir, { recursive: true, force: true });
    rmSync(args['url-file'], { force: true });
  };

  const host = args.ip === '0.0.0.0' || args.ip === '::' ? '127.0.0.1' : args.ip;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${args.port}`;
  const deadline = Date.now() + args['startup-timeout'] * 1000;
  let gone = false;
  void exited.then(() => { gone = true; });
  while (!(await answers(`${base}/api/status`, token))) {
    if (gone || stopping) break;
    if (Date.now() > deadline) {
      stop('SIGTERM');
      await exited;
      cleanup();
      throw new StartError(`Jupyter did not answer at ${base} within ${args['startup-timeout']}s`, 1);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (gone && !stopping) {
    cleanup();
    throw new StartError(`Jupyter exited before it answered at ${base} (exit code ${await exited}); see its log above`, 1);
  }
  if (!stopping) {
    const url = `${base}/?token=${token}`;
    mkdirSync(dirname(args['url-file']), { recursive: true });
    writeFileSync(args['url-file'], url + '\n', { mode: 0o600 });
    console.log(`\nJupyter is ready (notebooks in ${WORKSPACE_DIR}, kernel "TypeScript"):\n\n    ${url}\n`);
    if (args.ip === '0.0.0.0') console.log(`Listening on all interfaces: from outside the container use its address with port ${args.port}.`);
    console.log(`(URL saved to ${args['url-file']}; Ctrl+C stops Jupyter)`);
  }
  const code = await exited;
  cleanup();
  return stopping ? 0 : code || 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof StartError) {
      console.error(`notebook: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      console.error('notebook: unexpected error:', err);
      process.exitCode = 1;
    }
  },
);
