import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { parseWalkthrough } from '../src/walkthrough.js';

const ROOT = path.resolve(__dirname, '../../..');
const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots', 'e2e');
const PORTS = { tracking: 5000, api: 8000, jupyter: 8888 };

/** Resolves when `text` has matched, rejects when the child exits first. */
function waitForOutput(child: ChildProcess, read: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs / 1000} s:\n${read().slice(-3000)}`)), timeoutMs);
    const check = (): void => {
      if (pattern.test(read())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited (code ${String(code)}) before ${pattern}:\n${read().slice(-3000)}`));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('the demo command and the README walkthrough, against the real services', function () {
  // Fresh CI machines train v1 and v2 (small parameters) before "ready".
  this.timeout(20 * 60_000);
  let demo: ChildProcess;
  let output = '';

  before(async function () {
    for (const [name, port] of Object.entries(PORTS)) {
      if (!(await portIsFree(port))) throw new Error(`port ${port} (${name}) is busy: stop the running platform before this test`);
    }
    demo = spawn('npm', ['run', 'demo', '--', '--profile', 'ci', '--retrain'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitForOutput(demo, () => output, /^ready in /m, 18 * 60_000);
  });

  after(function () {
    if (demo?.pid !== undefined && demo.exitCode === null) {
      try {
        process.kill(-demo.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('prints the URLs of every service and the Jupyter token', function () {
    expect(output).to.match(/tracking UI\s+http:\/\/127\.0\.0\.1:5000\//);
    expect(output).to.match(/prediction\s+http:\/\/127\.0\.0\.1:8000\//);
    expect(output).to.match(/Jupyter\s+http:\/\/\S+:8888\/\S*token=\w+/);
  });

  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = parseWalkthrough(readme);

  it('the README has a walkthrough to follow', function () {
    expect(blocks.length).to.be.greaterThan(5);
  });

  describe('the README walkthrough, block by block', function () {
    for (const block of blocks) {
      it(`walkthrough, ${block.heading} (README line ${block.line}): ${block.code.split('\n')[0]}`, function () {
        const run = spawnSync('bash', ['-euo', 'pipefail', '-c', block.code], { cwd: ROOT, encoding: 'utf8', timeout: 5 * 60_000 });
        const shown = `$ ${block.code}\n${run.stdout}${run.stderr}`;
        expect(run.status, shown).to.equal(0);
        for (const pattern of block.expect) expect(run.stdout + run.stderr, shown).to.match(pattern);
      });
    }
  });

  describe('seen in a browser (headless Chromium)', function () {
    let browser: Browser;
    before(async function () {
      mkdirSync(SCREENSHOTS, { recursive: true });
      console.log(`      screenshots: ${path.relative(ROOT, SCREENSHOTS)}/`);
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    });
    after(async function () {
      await browser?.close();
    });

    it('the tracking UI shows the v1 and v2 runs, their metric charts and the registered versions', async function () {
      const tracking = `http://127.0.0.1:${PORTS.tracking}`;
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(`${tracking}/#/`);
      await page.click('.experiment-link >> text=ring-count');
      await page.waitForSelector('[data-testid=runs-table] tbody tr .run-link');
      const runNames = await page.$$eval('[data-testid=runs-table] tbody tr .run-link', (links) => links.map((a) => a.textContent ?? ''));
      expect(runNames.some((n) => n.startsWith('v1'))).to.equal(true);
      expect(runNames.some((n) => n.startsWith('v2'))).to.equal(true);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'tracking-runs.png'), fullPage: true });

      await page.click('[data-testid=runs-table] tbody tr .run-link >> text=/^v2/');
      await page.waitForSelector('[data-testid=charts] .chart canvas', { timeout: 30_000 });
      const charted = await page.$$eval('[data-testid=charts] .chart', (cards) => cards.map((c) => c.getAttribute('data-metric')));
      expect(charted.join(' ')).to.match(/loss/).and.to.match(/acc/);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'tracking-run-v2.png'), fullPage: true });

      await page.goto(`${tracking}/#/models/ring-counter`);
      await page.waitForSelector('[data-testid=versions-table] tbody tr');
      const versions = await page.textContent('[data-testid=versions-table]');
      expect(versions).to.contain('v1').and.to.contain('v2').and.to.contain('production');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'tracking-registry.png'), fullPage: true });
      await page.close();
    });

    it('the API docs page shows the predict route', async function () {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${PORTS.api}/docs`);
      await page.getByText('/predict/').first().waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'api-docs.png'), fullPage: true });
      await page.close();
    });

    it('Jupyter opens train.ipynb on the TypeScript kernel', async function () {
      const jupyterUrl = readFileSync(path.join(ROOT, 'logs', 'jupyter-url.txt'), 'utf8').trim();
      const token = new URL(jupyterUrl).searchParams.get('token') ?? '';
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${PORTS.jupyter}/notebooks/train.ipynb?token=${token}`);
      await page.getByText(/TypeScript/).first().waitFor({ timeout: 60_000 });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'jupyter-train.png') });
      await page.close();
    });
  });

  describe('stopping', function () {
    it('Ctrl-C stops every service and leaves no orphan', async function () {
      const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
      process.kill(-(demo.pid as number), 'SIGINT');
      await exited;
      for (const [name, port] of Object.entries(PORTS)) {
        let free = false;
        for (let i = 0; i < 40 && !free; i++) {
          free = await portIsFree(port);
          if (!free) await new Promise((r) => setTimeout(r, 250));
        }
        expect(free, `${name} still listens on ${port} after Ctrl-C`).to.equal(true);
      }
      expect(output).to.contain('stopped.');
    });
  });
});
