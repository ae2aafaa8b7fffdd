#!/usr/bin/env node
/**
 * The logic of `update-models.sh`: promotes a registered version by moving the registry alias, after
 * the running API has downloaded, verified, loaded and warmed it, and waits until the API serves it.
 * A version that fails any of that is refused and the alias is left where it was.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { errorMessage, RegistryUnavailableError } from './errors.js';
import { describeKnown, MlflowRegistry, type RegistryVersion, resolveVersionRef } from './registry.js';

/** Exit codes: 1 = refused (unknown version, failed verification), 2 = a service could not be reached or misuse. */
class PromotionError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

interface Options {
  ref?: string;
  trackingUri: string;
  apiUrl: string;
  modelName: string;
  alias: string;
  timeoutS: number;
  list: boolean;
}

const say = (line: string): void => console.log(`update-models: ${line}`);
const show = (v: RegistryVersion): string => (v.label === `version ${v.version}` ? `version ${v.version}` : `${v.label} (registry version ${v.version})`);

async function main(): Promise<void> {
  const apiPort = process.env.API_PORT ?? '8000';
  const argv = await yargs(hideBin(process.argv))
    .scriptName('./update-models.sh')
    .usage(
      '$0 <version> [options]\n\n' +
        'Promotes a registered version of the ring-count model: the running API first downloads, verifies ' +
        '(SHA-256 of every file), loads and warms it; only then is the registry alias moved, and the API ' +
        'switches to it without a restart or a failed request. <version> is a label such as v1 or v2 ' +
        '(tag version_label) or a registry version number such as 3. Exit status: 0 promoted, ' +
        '1 refused (unknown version, failed verification), 2 registry or API unreachable, or bad usage.',
    )
    .command('$0 [target]', false, (y) => y.positional('target', { type: 'string', describe: 'v1, v2, … or a registry version number' }))
    .version(false)
    .option('tracking-uri', { type: 'string', default: process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000', describe: 'Model registry (env MLFLOW_TRACKING_URI)' })
    .option('api-url', { type: 'string', default: process.env.API_URL ?? `http://127.0.0.1:${apiPort}`, describe: 'Running prediction API (env API_URL, or API_PORT)' })
    .option('model-name', { type: 'string', default: 'ring-counter' })
    .option('alias', { type: 'string', default: 'production', describe: 'Registry alias the API serves' })
    .option('timeout', { type: 'number', default: 30, describe: 'Seconds to wait for the API to report the new version' })
    .option('list', { type: 'boolean', default: false, describe: 'List registered versions and exit' })
    .example('$0 v2', 'serve v2')
    .example('$0 v1', 'roll back to v1')
    .example('$0 --list', 'show registered versions')
    .strict()
    .help()
    .wrap(100)
    .parse();
  await promote({
    ref: typeof argv.target === 'string' ? argv.target : undefined,
    trackingUri: argv['tracking-uri'],
    apiUrl: argv['api-url'].replace(/\/+$/, ''),
    modelName: argv['model-name'],
    alias: argv.alias,
    timeoutS: argv.timeout,
    list: argv.list,
  });
}

async function promote(o: Options): Promise<void> {
  const registry = new MlflowRegistry(o.trackingUri, o.modelName);
  let versions: RegistryVersion[];
  try {
    versions = await registry.listVersions();
  } catch (err) {
    throw new PromotionError(`cannot list versions of '${o.modelName}': ${errorMessage(err)}; start it with npm run tracking or pass --tracking-uri`, 2);
  }
  if (o.list || !o.ref) {
    for (const v of versions) say(`${show(v)}${v.aliases.length ? `  [${v.aliases.join(', ')}]` : ''}`);
    if (versions.length === 0) say(`no versions of '${o.modelName}' are registered`);
    if (!o.list) throw new PromotionError('say which version to promote, e.g. ./update-models.sh v2 (see --help)', 2);
    return;
  }
  const target = resolveVersionRef(o.ref, versions);
  if (!target) throw new PromotionError(`unknown version '${o.ref}' of '${o.modelName}'; ${describeKnown(versions)}`, 1);
  const previous = await registry.getAlias(o.alias);
  say(`promoting ${show(target)} of '${o.modelName}' (alias '${o.alias}' is on ${previous ? show(previous) : 'nothing yet'})`);

  const apiUp = await prepareOnApi(o, target);
  if (!apiUp) await verifyLocally(registry, target);

  if (previous?.version === target.version) {
    say(`alias '${o.alias}' already points at ${show(target)}; nothing to move`);
  } else {
    await registry.setAlias(o.alias, target.version);
    say(`registry: ${o.modelName}@${o.alias} → ${show(target)}`);
  }
  if (!apiUp) {
    say(`the API at ${o.apiUrl} is not running; it will serve ${show(target)} when it starts`);
    return;
  }
  try {
    await waitUntilServed(o, target);
  } catch (err) {
    if (previous && previous.version !== target.version) {
      await registry.setAlias(o.alias, previous.version);
      say(`rolled the alias back to ${show(previous)}`);
    }
    throw err;
  }
}

/** Asks the running API to get the version ready. False when no API is running there. */
async function prepareOnApi(o: Options, target: RegistryVersion): Promise<boolean> {
  let res: Response;
  try {
    res = await fetch(`${o.apiUrl}/models/${encodeURIComponent(target.version)}/prepare`, { method: 'POST', signal: AbortSignal.timeout(o.timeoutS * 1000) });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED') return false;
    throw new PromotionError(`the API at ${o.apiUrl} did not answer (${code ?? errorMessage(err)}); nothing was changed`, 2);
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new PromotionError(`the API refused ${show(target)}: ${body.error ?? `HTTP ${res.status}`}; the alias was not moved and the current version keeps serving`, 1);
  say(`API at ${o.apiUrl} downloaded, verified (checksums), loaded and warmed ${show(target)}`);
  return true;
}

/** Without a running API, the same checks happen here: download, checksums, load. */
async function verifyLocally(registry: MlflowRegistry, target: RegistryVersion): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringcount-verify-'));
  try {
    await registry.downloadVersion(target, dir);
    // Loaded only here: TF.js takes a moment to load, and a promotion through the API never needs it.
    const { loadModelDir, selectBackend } = await import('@ringcount/model-core');
    await selectBackend();
    const { model } = await loadModelDir(dir);
    model.dispose();
    say(`verified ${show(target)} locally (checksums, load)`);
  } catch (err) {
    if (err instanceof RegistryUnavailableError) throw new PromotionError(errorMessage(err), 2);
    throw new PromotionError(`${show(target)} failed verification: ${errorMessage(err)}; the alias was not moved`, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitUntilServed(o: Options, target: RegistryVersion): Promise<void> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < o.timeoutS * 1000) {
    try {
      const res = await fetch(`${o.apiUrl}/deployed_version/`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { registry_version?: string; version?: string; registry?: { alias_version?: string; refused?: string } };
      if (body.registry_version === target.version) {
        say(`API now serves ${show(target)} (switched ${((Date.now() - started) / 1000).toFixed(2)} s after the alias moved)`);
        return;
      }
      if (body.registry?.alias_version === target.version && body.registry.refused) {
        throw new PromotionError(`the API refused ${show(target)}: ${body.registry.refused}`, 1);
      }
      last = body.version ?? '';
    } catch (err) {
      if (err instanceof PromotionError) throw err;
      last = errorMessage(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new PromotionError(`the API did not switch to ${show(target)} within ${o.timeoutS} s (it reports: ${last})`, 1);
}

main().catch((err: unknown) => {
  console.error(`update-models: ${errorMessage(err)}`);
  process.exit(err instanceof PromotionError ? err.exitCode : 2);
});
