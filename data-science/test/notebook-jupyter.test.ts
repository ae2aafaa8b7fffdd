// `npm run notebook`: the real Debian Jupyter server, started, queried over HTTP and stopped.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const START = resolve(__dirname, '../src/notebook/start-jupyter.js');
const TSLAB = resolve(__dirname, '../../../node_modules/.bin/tslab');

function listen(port: number): Promise<Server> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen({ host: '127.0.0.1', port }, () => res(server));
  });
}

async function freePort(): Promise<number> {
  const server = await listen(0);
  const address = server.address();
  await new Promise((res) => server.close(res));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Started { child: ChildProcess; output: () => string; exit: Promise<number | null> }

function start(args: string[]): Started {
  let output = '';
  const child = spawn(process.execPath, [START, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  return { child, output: () => output, exit };
}

/** Resolves with the URL once the starter prints it; rejects if it exits first. */
function readyUrl(started: Started): Promise<string> {
  return new Promise((res, rej) => {
    const check = (): void => {
      const m = /Jupyter is ready[^\n]*\n\s*\n\s*(http:\/\/\S+)/.exec(started.output());
      if (m) res(m[1]!);
    };
    started.child.stdout!.on('data', check);
    void started.exit.then((code) => rej(new Error(`start-jupyter exited ${code}:\n${started.output()}`)));
  });
}

describe('npm run notebook (real Jupyter)', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'notebook-jupyter-test-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves data-science/ with the project tslab kernel behind a token, then stops on SIGTERM', async () => {
    const port = await freePort();
    const urlFile = join(dir, 'jupyter-url.txt');
    const started = start(['--port', String(port), '--url-file', urlFile]);
    try {
      const url = await readyUrl(started);
      expect(url).to.match(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[0-9a-f]{48}$`));
      expect(readFileSync(urlFile, 'utf8').trim()).to.equal(url);
      const token = new URL(url).searchParams.get('token')!;
      const base = `http://127.0.0.1:${port}`;

      const anonymous = await fetch(`${base}/api/kernelspecs`);
      expect(anonymous.status, 'no token, no access').to.equal(403);
      const specs = await (await fetch(`${base}/api/kernelspecs`, { headers: { Authorization: `token ${token}` } })).json() as
        { kernelspecs: Record<string, { spec: { argv: string[]; language: string } }> };
      expect(specs.kernelspecs['tslab']?.spec.argv[0]).to.equal(TSLAB);
      expect(specs.kernelspecs['tslab']?.spec.language).to.equal('typescript');
      // Rooted at data-science/: its package.json is listed at the top level.
      const root = await (await fetch(`${base}/api/contents`, { headers: { Authorization: `token ${token}` } })).json() as
        { content: { name: string }[] };
      expect(root.content.map((c) => c.name)).to.include('package.json').and.include('src');
    } finally {
      started.child.kill('SIGTERM');
    }
    expect(await started.exit).to.equal(0);
    expect(existsSync(urlFile), 'URL file removed when Jupyter stops').to.equal(false);
    const after = await listen(port); // Jupyter released the port
    await new Promise((res) => after.close(res));
  });

  it('names the port when it is already in use', async () => {
    const port = await freePort();
    const squatter = await listen(port);
    try {
      const started = start(['--port', String(port), '--skip-setup', '--url-file', join(dir, 'unused.txt')]);
      expect(await started.exit).to.equal(2);
      expect(started.output()).to.contain(`port ${port} on 127.0.0.1 is already in use`).and.contain(`--port ${port + 1}`);
    } finally {
      await new Promise((res) => squatter.close(res));
    }
  });
});
