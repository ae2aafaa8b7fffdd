import { expect } from 'chai';
import sharp from 'sharp';
import type { RunningApi } from '../src/server.js';
import { ringImage } from '../src/testing/fixtures.js';
import { compoundPng, createWorld, getJson, RINGS_OF, updateModels, uploadImage, type World } from './helpers.js';

describe('demo-api: the upstream walkthrough', function () {
  let world: World;
  let api: RunningApi;

  before(async function () {
    world = await createWorld({ alias: 'v1' });
    api = await world.startApi();
  });
  after(async () => world.cleanup());

  it('welcome, models, deployed_version, predict, ./update-models.sh v2, predict again', async () => {
    const welcome = await getJson(`${api.url}/`);
    expect(welcome.status).to.equal(200);
    expect(welcome.body.message).to.match(/Welcome/);

    const models = await getJson(`${api.url}/models/`);
    expect(models.status).to.equal(200);
    const listed = models.body.versions as { version: string; registry_version: string; live: boolean }[];
    expect(listed.map((v) => v.version)).to.deep.equal(['v1', 'v2']);
    expect(listed.find((v) => v.live)?.version).to.equal('v1');

    const deployed = await getJson(`${api.url}/deployed_version/`);
    expect(deployed.body).to.include({ version: 'v1', registry_version: world.versions.v1 });

    const image = await compoundPng();
    const first = await uploadImage(`${api.url}/predict/`, image);
    expect(first.status).to.equal(200);
    expect(first.body).to.include({ version: 'v1', n_rings_pred: RINGS_OF.v1 });
    const probs = first.body.probabilities as Record<string, number>;
    expect(Object.keys(probs)).to.deep.equal(['1', '2', '3', '4', '5', '6', '7', '8']);
    expect(Object.values(probs).reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-3);

    const promoted = await updateModels(['v2'], { MLFLOW_TRACKING_URI: world.trackingUrl, API_URL: api.url });
    expect(promoted.code, promoted.stderr + promoted.stdout).to.equal(0);
    expect(promoted.stdout).to.match(/API now serves v2/);

    const second = await uploadImage(`${api.url}/predict/`, image);
    expect(second.body).to.include({ version: 'v2', n_rings_pred: RINGS_OF.v2 });
    expect((await getJson(`${api.url}/deployed_version/`)).body.version).to.equal('v2');
  });

  it('serves a pinned version while another is live', async () => {
    const image = await compoundPng();
    const pinned = await uploadImage(`${api.url}/models/v1/predict/`, image);
    expect(pinned.body).to.include({ version: 'v1', n_rings_pred: RINGS_OF.v1 });
    const byNumber = await uploadImage(`${api.url}/models/${world.versions.v1}/predict/`, image);
    expect(byNumber.body).to.include({ version: 'v1' });
  });

  it('accepts PNG, JPEG and WebP of any size', async () => {
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const res = await uploadImage(`${api.url}/predict/`, await ringImage(3, format), { type: `image/${format}` });
      expect(res.status, `${format}: ${JSON.stringify(res.body)}`).to.equal(200);
    }
    const big = await sharp(await ringImage(2)).resize(2400, 1800, { fit: 'fill' }).png().toBuffer();
    expect((await uploadImage(`${api.url}/predict/`, big)).status).to.equal(200);
  });

  it('documents itself with the live model, reports health, readiness and metrics', async () => {
    const docs = await fetch(`${api.url}/docs`);
    expect(docs.status).to.equal(200);
    expect(await docs.text()).to.match(/swagger-ui-bundle\.js/);
    expect((await fetch(`${api.url}/docs/swagger-ui-bundle.js`)).status).to.equal(200);

    const spec = await getJson(`${api.url}/openapi.json`);
    expect(spec.body.openapi).to.match(/^3\./);
    const info = spec.body.info as { version: string; description: string };
    expect(info.version).to.equal('v2');
    expect(info.description).to.match(/input 32×32×1/);
    const schemas = (spec.body.components as { schemas: { Prediction: { properties: { n_rings_pred: { enum: number[] } } } } }).schemas;
    expect(schemas.Prediction.properties.n_rings_pred.enum).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);

    expect((await getJson(`${api.url}/health`)).status).to.equal(200);
    expect((await getJson(`${api.url}/ready`)).body).to.include({ version: 'v2' });

    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).to.match(/ringcount_api_requests_total\{route="\/predict\/",method="POST",status="200",version="v1"\} [1-9]/);
    expect(metrics).to.match(/ringcount_api_request_duration_seconds_bucket\{le="[^"]+",route="\/predict\/",method="POST",version="v2"\}/);
    expect(metrics).to.match(/ringcount_predictions_total\{version="v1",n_rings="2"\} [1-9]/);
    expect(metrics).to.match(/ringcount_predictions_total\{version="v2",n_rings="5"\} [1-9]/);
    expect(metrics).to.match(/ringcount_inference_batch_size_count [1-9]/);
    expect(metrics).to.match(/ringcount_live_model_info\{version="v2",registry_version="2"\} 1/);
  });
});
