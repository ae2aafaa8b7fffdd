/**
 * The tracking web UI as a person sees it: the real tracking server (SQLite file, local artifacts)
 * filled through its REST API, driven in headless Chromium. Screenshots of every page are saved under
 * test-output/screenshots/tracking-ui/ (printed at the end) so a person can look at them.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTrackingServer, type RunningTrackingServer } from '../src/server/start.js';
import { BIG_METRIC_POINTS, populate, type CreatedRun, type UiFixture } from './ui-fixtures.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SCREENSHOT_DIR = path.resolve('test-output', 'screenshots', 'tracking-ui');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('tracking UI in Chromium', function () {
  this.timeout(120_000);
  let tmp: string;
  let server: RunningTrackingServer;
  let browser: Browser;
  let fixture: UiFixture;
  let page: Page;
  let pageErrors: string[];

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`bash scripts/setup-system.sh --with-browser\` or set CHROMIUM_PATH.`);
    tmp = mkdtempSync(path.join(tmpdir(), 'tracking-ui-'));
    server = await startTrackingServer({ port: 0, dbPath: path.join(tmp, 'tracking.db'), artifactsRoot: path.join(tmp, 'artifacts') });
    fixture = await populate(server.url);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    console.log(`    tracking UI screenshots: ${SCREENSHOT_DIR}`);
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    pageErrors = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `FAILED-${this.currentTest.title.replace(/\W+/g, '-')}.png`), fullPage: true });
    }
    await page.close();
    expect(pageErrors, 'uncaught errors in the page').to.deep.equal([]);
  });

  const open = async (hash: string, waitFor: string): Promise<void> => {
    await page.goto(`${server.url}/${hash}`);
    await page.waitForSelector(waitFor);
  };
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  const runNamesInTable = (): Promise<string[]> =>
    page.$$eval('[data-testid=runs-table] tbody tr .run-link', (links) => links.map((a) => a.textContent ?? ''));
  /** Waits until the runs table shows exactly these run names, in this order. */
  const waitForRunNames = async (names: string[]): Promise<void> => {
    await page.waitForFunction((expected) => {
      const shown = Array.from(document.querySelectorAll('[data-testid=runs-table] tbody tr .run-link'), (a) => a.textContent);
      return JSON.stringify(shown) === JSON.stringify(expected);
    }, names, { timeout: 15_000 }).catch(async () => {
      throw new Error(`runs table shows ${JSON.stringify(await runNamesInTable())}, expected ${JSON.stringify(names)}`);
    });
  };
  const keyValues = (testId: string): Promise<Record<string, string>> =>
    page.$$eval(`[data-testid=${testId}] tr`, (rows) => Object.fromEntries(rows.map((r) => {
      const cells = (r as HTMLTableRowElement).cells;
      return [cells[0]?.textContent ?? '', cells[1]?.textContent ?? ''];
    })));
  const allRuns = (): CreatedRun[] => Object.values(fixture.runs);
  const apiError = async (endpoint: string, init?: RequestInit): Promise<string> => {
    const res = await fetch(`${server.url}/api/2.0/mlflow/${endpoint}`, init);
    expect(res.status, `${endpoint} should be refused`).to.be.within(400, 499);
    return ((await res.json()) as { message: string }).message;
  };

  it('lists the experiments by name and shows a hostile name as plain text', async () => {
    await open('#/', '[data-testid=experiments-table]');
    const names = await page.$$eval('.experiment-link', (links) => links.map((a) => a.textContent));
    expect(names).to.include.members([fixture.experimentName, 'empty-experiment', fixture.xssExperimentName]);
    expect(await page.$$('#app img')).to.have.length(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);
    await shot('experiments');

    await page.click(`.experiment-link >> text=${fixture.experimentName}`);
    await page.waitForSelector('[data-testid=runs-table]');
    expect(await page.textContent('h1')).to.contain(fixture.experimentName);
  });

  it('shows params and metrics as columns of the runs table and sorts by clicking a header', async () => {
    await open(`#/experiments/${fixture.experimentId}`, '[data-testid=runs-table]');
    const columns = await page.$$eval('[data-testid=runs-table] th[data-column]', (ths) => ths.map((th) => th.getAttribute('data-column')));
    expect(columns).to.have.members(['metrics.accuracy', 'metrics.loss', 'params.batch_size', 'params.epochs', 'params.lr', 'params.optimizer']);
    // Default order: newest first.
    await waitForRunNames([...allRuns()].sort((a, b) => b.startTime - a.startTime).map((r) => r.name));
    const accuracyCell = await page.textContent(`tr[data-run-id="${fixture.runs.improved.runId}"] td[data-metric=accuracy]`);
    expect(accuracyCell).to.equal(String(fixture.runs.improved.accuracy));
    await shot('runs-table');

    const byAccuracy = [...allRuns()].sort((a, b) => a.accuracy - b.accuracy).map((r) => r.name);
    await page.click('th[data-sort="metrics:accuracy"]');
    await page.waitForSelector('th[data-sort="metrics:accuracy"][aria-sort=ascending]');
    await waitForRunNames(byAccuracy);
    await page.click('th[data-sort="metrics:accuracy"]');
    await page.waitForSelector('th[data-sort="metrics:accuracy"][aria-sort=descending]');
    await waitForRunNames([...byAccuracy].reverse());
    await shot('runs-sorted-by-accuracy-desc');

    await page.click('th[data-sort="attributes:run_name"]');
    await waitForRunNames(allRuns().map((r) => r.name).sort());
  });

  it('narrows the rows with a filter and shows the server\'s message for a bad filter', async () => {
    await open(`#/experiments/${fixture.experimentId}`, '[data-testid=runs-table]');
    await page.fill('input.filter', 'metrics.accuracy > 0.8');
    await page.press('input.filter', 'Enter');
    const accurate = allRuns().filter((r) => r.accuracy > 0.8).map((r) => r.name);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=runs-table] tbody tr').length === n, accurate.length);
    expect(await runNamesInTable()).to.have.members(accurate);

    await page.fill('input.filter', "params.optimizer = 'adam' and metrics.accuracy > 0.5");
    await page.click('button[type=submit]');
    await waitForRunNames(allRuns().filter((r) => r.params.optimizer === 'adam').map((r) => r.name));
    await shot('runs-filtered');

    const badFilter = 'metrics.accuracy >>> 0.5';
    const serverMessage = await apiError('runs/search', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ experiment_ids: [fixture.experimentId], filter: badFilter }),
    });
    await page.fill('input.filter', badFilter);
    await page.press('input.filter', 'Enter');
    const alert = await page.waitForSelector('[role=alert]');
    expect(await alert.textContent()).to.contain(serverMessage);
    expect(await page.$('[data-testid=runs-table]')).to.equal(null);
    expect(await page.inputValue('input.filter')).to.equal(badFilter);
    await shot('runs-bad-filter');

    await page.fill('input.filter', "params.optimizer = 'rmsprop'");
    await page.press('input.filter', 'Enter');
    await page.waitForSelector('.empty >> text=No runs match this filter');
  });

  it('pages through the runs with page tokens', async () => {
    await open(`#/experiments/${fixture.experimentId}?max=2`, '[data-testid=runs-table]');
    const first = await runNamesInTable();
    expect(first).to.have.length(2);
    expect(await page.isDisabled('[data-testid=pager] >> text=Previous')).to.equal(true);
    await page.click('[data-testid=pager] >> text=Next');
    await page.waitForSelector('[data-testid=pager] >> text=Page 2');
    const second = await runNamesInTable();
    expect(second).to.have.length(allRuns().length - 2);
    expect([...first, ...second]).to.have.members(allRuns().map((r) => r.name));
    expect(await page.isDisabled('[data-testid=pager] >> text=Next')).to.equal(true);
    await page.click('[data-testid=pager] >> text=Previous');
    await page.waitForSelector('[data-testid=pager] >> text=Page 1');
    await waitForRunNames(first);
  });

  it('explains what to do when an experiment has no runs', async () => {
    await open(`#/experiments/${fixture.emptyExperimentId}`, '.empty');
    const text = await page.textContent('.empty');
    expect(text).to.contain('No runs yet').and.to.contain('train.ipynb');
    await shot('runs-empty');
  });

  it('shows a run: its values, a 100,000-point chart against step or time, and artifact previews', async () => {
    const run = fixture.runs.improved;
    await open(`#/runs/${run.runId}`, '.chart[data-metric=loss] canvas');
    expect(await page.textContent('[data-testid=run-name]')).to.equal(run.name);
    expect(await keyValues('params-table')).to.deep.equal(run.params);
    const metrics = await keyValues('metrics-table');
    expect(metrics.accuracy).to.match(new RegExp(`^${run.accuracy}\\b`));
    expect(await keyValues('tags-table')).to.deep.equal({ purpose: 'ui-test' });
    expect(await page.textContent('[data-testid=run-status]')).to.equal('FINISHED');

    // One chart per metric; the big one holds every point and has ink on its canvas.
    expect(await page.$$eval('[data-testid=charts] .chart', (cards) => cards.map((c) => c.getAttribute('data-metric')))).to.deep.equal(['accuracy', 'loss']);
    expect(await page.getAttribute('.chart[data-metric=loss]', 'data-points')).to.equal(String(BIG_METRIC_POINTS));
    expect(await page.textContent('.chart[data-metric=loss] h3')).to.contain('100,000 points');
    const inkedPixels = (): Promise<number> => page.$eval('.chart[data-metric=loss] canvas', (canvas) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) inked++;
      return inked;
    });
    expect(await inkedPixels()).to.be.greaterThan(1000);
    // Figures for the person reading the log (measured, not asserted).
    const fetchMs = await page.getAttribute('[data-testid=charts-status][data-fetch-ms]', 'data-fetch-ms');
    const drawMs = await page.getAttribute('.chart[data-metric=loss]', 'data-draw-ms');
    console.log(`      ${BIG_METRIC_POINTS.toLocaleString('en-US')}-point history: fetched and parsed in ${fetchMs} ms, uPlot drew it in ${drawMs} ms`);
    await page.waitForSelector('[data-testid=artifact-preview] pre');
    await shot('run-page');

    await page.click('button[data-value=wall]');
    await page.waitForSelector('.chart[data-metric=loss] .u-label >> text=Wall time');
    expect(await inkedPixels()).to.be.greaterThan(1000);
    await page.click('button[data-value=relative]');
    await page.waitForSelector('.chart[data-metric=loss] .u-label >> text=Relative time (s)');
    await page.click('button[data-value=step]');
    await page.waitForSelector('.chart[data-metric=loss] .u-label >> text=Step');

    // The first previewable file opens by itself: metrics.json, pretty-printed.
    expect(await page.textContent('[data-testid=artifact-preview] pre')).to.contain('"accuracy": 0.93');
    await page.click('button[data-path=plots]');
    await page.click('button[data-path="plots/confusion.png"]');
    const img = await page.waitForSelector('img[data-testid=artifact-image]');
    await page.waitForFunction(() => (document.querySelector('img[data-testid=artifact-image]') as HTMLImageElement | null)?.complete === true);
    const size = await img.evaluate((el) => ({ width: (el as HTMLImageElement).naturalWidth, height: (el as HTMLImageElement).naturalHeight }));
    expect(size).to.deep.equal(fixture.pngSize);
    await shot('run-artifact-image');

    await page.click('button[data-path=data]');
    await page.click('button[data-path="data/predictions.csv"]');
    await page.waitForSelector('[data-testid=artifact-csv]');
    const cells = await page.$$eval('[data-testid=artifact-csv] td', (tds) => tds.map((td) => td.textContent));
    expect(cells).to.include('C1CC1,weird');

    await page.click('button[data-path="notes.md"]');
    await page.waitForSelector('[data-testid=artifact-preview] pre >> text=stays text');
    expect(await page.textContent('[data-testid=artifact-preview] pre')).to.contain('<script>window.__xss=2</script>');
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).to.equal(undefined);
  });

  it('compares the selected runs: overlaid curves and params side by side with differences highlighted', async () => {
    const { baseline, improved } = fixture.runs;
    await open(`#/experiments/${fixture.experimentId}`, '[data-testid=runs-table]');
    expect(await page.isDisabled('[data-testid=compare-button]')).to.equal(true);
    await page.check(`input[data-run-id="${baseline.runId}"]`);
    await page.check(`input[data-run-id="${improved.runId}"]`);
    expect(await page.textContent('[data-testid=compare-button]')).to.equal('Compare selected (2)');
    await page.click('[data-testid=compare-button]');
    await page.waitForSelector('.chart[data-metric=loss] canvas');
    await page.waitForSelector('.chart[data-metric=accuracy] canvas');

    // Both runs are series of the same loss chart (uPlot's legend lists x first, then each series).
    const legend = await page.$$eval('.chart[data-metric=loss] .u-legend .u-series th', (ths) => ths.map((th) => th.textContent?.trim()));
    expect(legend.slice(1)).to.deep.equal([baseline.name, improved.name]);
    expect(await page.getAttribute('.chart[data-metric=loss]', 'data-points')).to.equal(String(baseline.lossPoints + improved.lossPoints));

    const row = (key: string): Promise<{ differs: boolean; values: string[] }> => page.$eval(`[data-testid=compare-params] tr[data-key="${key}"]`, (tr) => ({
      differs: tr.classList.contains('differs'),
      values: Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '').slice(1),
    }));
    expect(await row('lr')).to.deep.equal({ differs: true, values: [baseline.params.lr, improved.params.lr] });
    expect(await row('batch_size')).to.deep.equal({ differs: false, values: [baseline.params.batch_size, improved.params.batch_size] });
    await shot('compare');

    await page.check('[data-testid=only-differences]');
    expect(await page.isHidden('[data-testid=compare-params] tr[data-key=batch_size]')).to.equal(true);
    expect(await page.isVisible('[data-testid=compare-params] tr[data-key=lr]')).to.equal(true);
  });

  it('shows the model registry: versions with tags and aliases, linked to their source runs', async () => {
    await open('#/models', '[data-testid=models-table]');
    expect(await page.textContent(`tr[data-model="${fixture.modelName}"] [data-alias=champion]`)).to.equal('@champion → v2');
    await shot('registry');

    await page.click(`tr[data-model="${fixture.modelName}"] .model-link`);
    await page.waitForSelector('[data-testid=versions-table]');
    expect(await page.$$eval('[data-testid=versions-table] tbody tr', (rows) => rows.map((r) => r.getAttribute('data-version')))).to.deep.equal(['2', '1']);
    expect(await page.$$eval('tr[data-version="2"] [data-alias]', (chips) => chips.map((c) => c.textContent))).to.deep.equal(['@champion']);
    expect(await page.$$('tr[data-version="1"] [data-alias]')).to.have.length(0);
    expect(await page.textContent('tr[data-version="2"] [data-tag=validation]')).to.equal('validation=passed');
    expect(await page.textContent('tr[data-version="1"] .source-run')).to.equal(fixture.runs.baseline.name);
    await shot('model-versions');

    await page.click('tr[data-version="2"] .source-run');
    await page.waitForSelector('[data-testid=run-name]');
    expect(await page.textContent('[data-testid=run-name]')).to.equal(fixture.runs.improved.name);
    // The run links back to the version registered from it.
    expect(await page.textContent(`[data-model-version="${fixture.modelName}/2"]`)).to.equal(`${fixture.modelName} v2 @champion`);
    expect(await page.$$('[data-model-version]')).to.have.length(1);
  });

  it('says clearly when a run, an experiment or a model does not exist', async () => {
    const cases: Array<[string, string, string]> = [
      ['#/runs/no-such-run', 'runs/get?run_id=no-such-run', 'Run not found'],
      ['#/experiments/987654', 'experiments/get?experiment_id=987654', 'Experiment not found'],
      ['#/models/no-such-model', 'registered-models/get?name=no-such-model', 'no-such-model'],
    ];
    for (const [hash, endpoint, heading] of cases) {
      const serverMessage = await apiError(endpoint);
      await open(hash, '[role=alert]');
      expect(await page.textContent('h1'), hash).to.equal(heading);
      expect(await page.textContent('[role=alert]'), hash).to.contain(serverMessage);
    }
    await shot('not-found');
  });
});
