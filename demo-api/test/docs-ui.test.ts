import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { RunningApi } from '../src/server.js';
import { createWorld, type World } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';

describe('demo-api: /docs in a real browser', function () {
  let world: World;
  let api: RunningApi;

  before(async function () {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run npm run notebook:setup (scripts/setup-system.sh --with-browser)`);
    world = await createWorld({ alias: 'v1' });
    api = await world.startApi();
  });
  after(async () => world?.cleanup());

  it('renders Swagger UI with every route and the live model in the description', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${api.url}/docs`);
      await page.waitForSelector('.opblock-summary-path', { timeout: 60_000 });
      const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path')));
      expect(paths).to.include.members(['/predict/', '/models/{version}/predict/', '/deployed_version/', '/models/', '/metrics']);
      expect(await page.textContent('.info')).to.match(/Live model: v1 \(registry version 1, tiny-cnn\), input 32×32×1/);
      expect(errors).to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });
});
