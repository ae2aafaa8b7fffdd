/**
 * The demo command (`npm run demo`): brings up the whole platform on one machine and keeps it up
 * until Ctrl-C. Each step is skipped when its result already exists, so running it again resumes.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { GENERATOR_VERSION, type GenerationManifest } from '@ringcount/data-engineering';
import { assertPortFree, runStep, runningSteps, startService, stopServices, waitForHttp, type Service } from './services.js';

const ROOT = path.resolve(__dirname, '../../..');
const LOG_DIR = path.join(ROOT, 'logs');

interface Profile {
  /** Raw data folder to ingest, and how many compounds to generate there when it is missing. */
  rawDir: string;
  generateCount: number;
  /** Extra notebook parameters for training runs (on top of the notebook's defaults). */
  trainParams: string[];
}

const PROFILES: Record<string, Profile> = {
  // The real demo: a generated training set large enough for v2 to reach its accuracy target.
  full: { rawDir: 'data-engineering/generated', generateCount: 6000, trainParams: [] },
  // CI and quick looks: the shipped raw-data/ and tiny training runs.
  ci: { rawDir: 'raw-data', generateCount: 300, trainParams: ['-p', 'epochs=1', '-p', 'maxImages=200'] },
};

interface Options {
  profile: string;
  retrain: boolean;
  jupyter: boolean;
}

/**
 * The generator version that made the demo's own generated set, when an older generator made it (so
 * the demo trains on what the current generator draws). Data without a generation.json, or from
 * the current generator, is left alone.
 */
function outdatedGeneration(rawDir: string): string | undefined {
  const manifestFile = path.join(rawDir, 'generation.json');
  if (!existsSync(manifestFile) || path.relative(ROOT, rawDir) !== PROFILES.full?.rawDir) return undefined;
  let manifest: Partial<GenerationManifest>;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Partial<GenerationManifest>;
  } catch {
    return 'unknown (unreadable generation.json)'; // a damaged manifest: regenerate rather than stop the demo
  }
  return manifest.generator_version === GENERATOR_VERSION ? undefined : String(manifest.generator_version);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { profile: process.env.DEMO_PROFILE ?? 'full', retrain: false, jupyter: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--retrain') opts.retrain = true;
    else if (arg === '--no-jupyter') opts.jupyter = false;
    else if (arg === '--profile') opts.profile = argv[++i] ?? '';
    else if (arg?.startsWith('--profile=')) opts.profile = arg.slice('--profile='.length);
    else if (arg === '-h' || arg === '--help') {
      console.log(`usage: npm run demo [-- --retrain] [--profile full|ci] [--no-jupyter]

Starts the tracking server (:${trackingPort()}), generates and ingests data, trains v1 and v2 through
data-science/train.ipynb (skipped when both are registered; --retrain forces), promotes v1, starts the
prediction API (:${apiPort()}) and Jupyter (:${jupyterPort()}). Logs go to logs/. Ctrl-C stops everything.
Ports: TRACKING_PORT, API_PORT, JUPYTER_PORT.`);
      process.exit(0);
    } else {
      console.error(`demo: unknown option '${arg}' (try --help)`);
      process.exit(64);
    }
  }
  if (!PROFILES[opts.profile]) {
    console.error(`demo: unknown profile '${opts.profile}': use one of ${Object.keys(PROFILES).join(', ')}`);
    process.exit(64);
  }
  return opts;
}

const trackingPort = (): number => Number(process.env.TRACKING_PORT ?? 5000);
const apiPort = (): number => Number(process.env.API_PORT ?? 8000);
const jupyterPort = (): number => Number(process.env.JUPYTER_PORT ?? 8888);

const services: Service[] = [];
const startedAt = Date.now();
let stepNo = 0;
const TOTAL_STEPS = 7;

async function step<T>(title: string, work: () => Promise<T>): Promise<T> {
  stepNo++;
  const t0 = Date.now();
  console.log(`\n[${stepNo}/${TOTAL_STEPS}] ${title}`);
  const result = await work();
  console.log(`[${stepNo}/${TOTAL_STEPS}] ${title}: done in ${seconds(Date.now() - t0)} (total ${seconds(Date.now() - startedAt)})`);
  return result;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const node = process.execPath;
const dist = (ws: string, file: string): string => path.join(ROOT, ws, 'dist', 'src', file);

/** Version labels (tag `version_label`) already registered under `ring-counter`. */
async function registeredLabels(trackingUrl: string): Promise<Set<string>> {
  const url = `${trackingUrl}/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name='ring-counter'")}&max_results=1000`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`tracking server answered ${res.status} to ${url}`);
  const body = (await res.json()) as { model_versions?: { tags?: { key: string; value: string }[] }[] };
  const labels = new Set<string>();
  for (const v of body.model_versions ?? []) {
    for (const t of v.tags ?? []) if (t.key === 'version_label') labels.add(t.value);
  }
  return labels;
}

/** Contents of a file another process writes, once it exists. */
async function waitForFile(file: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${file} did not appear within ${timeoutMs / 1000} s`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const profile = PROFILES[opts.profile] as Profile;
  const trackingUrl = `http://127.0.0.1:${trackingPort()}`;
  const apiUrl = `http://127.0.0.1:${apiPort()}`;
  const env = { MLFLOW_TRACKING_URI: trackingUrl };

  await step('tracking server', async () => {
    await assertPortFree(trackingPort(), '127.0.0.1', 'tracking server', 'TRACKING_PORT');
    const s = startService('tracking', node, [dist('tracking', 'server/cli.js'), '--port', String(trackingPort())], { cwd: ROOT, logDir: LOG_DIR });
    services.push(s);
    await waitForHttp(s, `${trackingUrl}/health`, 60_000);
    console.log(`  tracking UI at ${trackingUrl}/ (log: ${path.relative(ROOT, s.logFile)})`);
  });

  await step('raw data', async () => {
    const rawDir = path.join(ROOT, profile.rawDir);
    const outdated = outdatedGeneration(rawDir);
    if (outdated !== undefined) {
      console.log(`  ${profile.rawDir} was made by generator ${outdated}; generating it again with ${GENERATOR_VERSION}`);
    } else if (existsSync(path.join(rawDir, 'compounds.json'))) {
      console.log(`  ${profile.rawDir}/compounds.json exists: not generating`);
      return;
    }
    await runStep(node, [dist('data-engineering', 'generate/cli.js'), '--count', String(profile.generateCount), '--seed', '42', '--out', rawDir], { cwd: ROOT });
  });

  await step('ingest', async () => {
    await runStep(node, [dist('data-engineering', 'ingest/cli.js'), '--data_loc', profile.rawDir, '--file_name', 'compounds.json',
      '--output_path', 'data-science/data', '--dlq', 'data-engineering/ingest/dlq.log'], { cwd: ROOT });
  });

  await step('train v1 and v2 (data-science/train.ipynb, headless)', async () => {
    const have = await registeredLabels(trackingUrl);
    const missing = ['v1', 'v2'].filter((v) => opts.retrain || !have.has(v));
    if (missing.length === 0) {
      console.log('  v1 and v2 are already registered: skipping (--retrain to train again)');
      return;
    }
    // One kernel for both versions when both are needed: tslab's start-up is ~10 s.
    const version = missing.length === 2 ? 'both' : (missing[0] as string);
    await runStep(node, [dist('data-science', 'notebook/run-notebook.js'), 'data-science/train.ipynb', '-p', `version="${version}"`,
      '-p', `trackingUri="${trackingUrl}"`, ...profile.trainParams, '-o', `logs/train-${version}.ipynb`], { cwd: ROOT, env });
  });

  await step('promote v1', async () => {
    await runStep('bash', [path.join(ROOT, 'update-models.sh'), 'v1'], { cwd: ROOT, env });
  });

  await step('prediction API', async () => {
    await assertPortFree(apiPort(), '127.0.0.1', 'prediction API', 'API_PORT');
    const s = startService('api', node, [dist('demo-api', 'cli.js'), '--port', String(apiPort()), '--tracking-uri', trackingUrl], { cwd: ROOT, logDir: LOG_DIR });
    services.push(s);
    await waitForHttp(s, `${apiUrl}/ready`, 120_000);
    console.log(`  API at ${apiUrl}/ (docs: ${apiUrl}/docs)`);
  });

  let jupyterUrl: string | undefined;
  await step('Jupyter', async () => {
    if (!opts.jupyter) return console.log('  skipped (--no-jupyter)');
    if (!existsSync('/usr/bin/jupyter-notebook') && !existsSync('/usr/bin/jupyter')) {
      return console.log('  Jupyter is not installed: run `npm run notebook:setup` (needs root or sudo), then `npm run notebook`');
    }
    await assertPortFree(jupyterPort(), '127.0.0.1', 'Jupyter', 'JUPYTER_PORT');
    const urlFile = path.join(LOG_DIR, 'jupyter-url.txt');
    rmSync(urlFile, { force: true }); // written anew, with the token, once Jupyter answers
    const s = startService('jupyter', node, [dist('data-science', 'notebook/start-jupyter.js'), '--port', String(jupyterPort())], { cwd: ROOT, logDir: LOG_DIR, env });
    services.push(s);
    await waitForHttp(s, `http://127.0.0.1:${jupyterPort()}/api`, 90_000);
    jupyterUrl = await waitForFile(urlFile, 30_000);
  });

  console.log(`
ready in ${seconds(Date.now() - startedAt)}: v1 is live.
  tracking UI   ${trackingUrl}/
  prediction    ${apiUrl}/   (OpenAPI docs: ${apiUrl}/docs)
  Jupyter       ${jupyterUrl ?? '(not started)'}
  logs          ${path.relative(ROOT, LOG_DIR)}/

Next steps (README "Walkthrough"):
  curl localhost:${apiPort()}/deployed_version/
  curl -F image=@raw-data/images/$(ls raw-data/images | head -1) localhost:${apiPort()}/predict/
  ./update-models.sh v2
Press Ctrl-C to stop every service.`);
}

let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log('\nstopping services…');
    for (const child of runningSteps) child.kill('SIGTERM');
    await stopServices(services);
    console.log('stopped.');
  }
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));

main().catch(async (err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
});
