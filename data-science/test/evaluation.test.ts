import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startTrackingServer, TrackingClient, type RunningTrackingServer } from '@ringcount/tracking';
import { compareTrackedVersions, emptyConfusion, summarizeConfusion } from '../src/index.js';

describe('evaluation', () => {
  it('computes exact, ±1 and mean absolute error from a confusion matrix', () => {
    const c = emptyConfusion([0, 1, 2, 3]);
    c.matrix = [
      [5, 1, 0, 0], // 5 right, 1 off by one
      [0, 4, 0, 0],
      [0, 0, 3, 0],
      [2, 0, 0, 5], // 2 off by three
    ];
    const s = summarizeConfusion(c);
    expect(s.count).to.equal(20);
    expect(s.accuracy).to.be.closeTo(17 / 20, 1e-12);
    expect(s.withinOne).to.be.closeTo(18 / 20, 1e-12);
    expect(s.meanAbsoluteError).to.be.closeTo((1 + 2 * 3) / 20, 1e-12);
  });

  it('scores an empty matrix as zero rather than NaN', () => {
    expect(summarizeConfusion(emptyConfusion([0, 1]))).to.deep.equal({ count: 0, accuracy: 0, withinOne: 0, meanAbsoluteError: 0 });
  });
});

describe('compareTrackedVersions (real tracking server)', () => {
  let dir: string;
  let server: RunningTrackingServer;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'compare-test-'));
    server = await startTrackingServer({ port: 0, dbPath: path.join(dir, 'db.sqlite'), artifactsRoot: path.join(dir, 'art'), log: () => undefined });
    const client = new TrackingClient({ trackingUri: server.url });
    // Two runs logged the way the trainer logs them; v2's older, failed run must be ignored.
    const logRun = async (version: string, valAcc: number[], testAcc: number, status: 'FINISHED' | 'FAILED') => {
      const run = await client.startRun('cmp', { runName: version });
      await run.setTags({ version_label: version });
      await run.logParams({ architecture: `${version}-arch`, n_train: 70, n_val: 15, n_test: 15, image_size: 32, augmentation: 'none', lr_schedule: 'constant' });
      for (const [i, acc] of valAcc.entries()) {
        await run.logMetrics({ train_loss: 1 / (i + 1), train_accuracy: acc + 0.05, val_loss: 1.1 / (i + 1), val_accuracy: acc }, i + 1);
      }
      await run.logMetrics({ test_accuracy: testAcc, test_within_one: 0.99, test_mae: 1 - testAcc, train_seconds: 10, train_img_per_s_mean: 50 }, valAcc.length);
      await run.end(status);
    };
    await logRun('v2', [0.1, 0.1, 0.1], 0.1, 'FAILED');
    await logRun('v1', [0.3, 0.4, 0.5], 0.52, 'FINISHED');
    await logRun('v2', [0.5, 0.8, 0.93], 0.92, 'FINISHED');
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the latest finished run of each version back and explains which is better', async () => {
    const cmp = await compareTrackedVersions({ trackingUri: server.url, experiment: 'cmp' });
    expect(cmp.runs.map((r) => r.version)).to.deep.equal(['v1', 'v2']);
    expect(cmp.runs[1]?.history.valAccuracy).to.deep.equal([0.5, 0.8, 0.93]);
    expect(cmp.table).to.match(/test accuracy \(exact\)\s+52\.0%\s+92\.0%/);
    expect(cmp.verdict).to.match(/v2 is better on the held-out test images: 92\.0% exact vs 52\.0% for v1.*\(\+40\.0 points\)/);
    expect((await sharp(cmp.chartPng).metadata()).format).to.equal('png');
  });

  it('says what to do when nothing was trained', async () => {
    let err: unknown;
    await compareTrackedVersions({ trackingUri: server.url, experiment: 'nothing-here' }).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.match(/no finished runs of v1, v2 in experiment 'nothing-here': train them first/);
  });
});
