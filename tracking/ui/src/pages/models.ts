/** Model registry: registered models, and one model's versions with tags, aliases and source runs. */
import { getRegisteredModel, getRun, runName, searchModelVersions, searchRegisteredModels, type KeyValue, type ModelVersion, type RegisteredModel } from '../api.js';
import { emptyState, errorBox, h, keyValueTable, loading, replaceChildren, type Child } from '../dom.js';
import { formatTime } from '../format.js';
import { link, type PageContext } from '../router.js';

function aliasChips(aliases: string[]): Child {
  return aliases.length ? aliases.map((a) => h('span', { class: 'chip alias', 'data-alias': a }, `@${a}`)) : h('span', { class: 'muted' }, '—');
}

function tagChips(tags: KeyValue[] | undefined): Child {
  const list = tags ?? [];
  return list.length ? list.map((t) => h('span', { class: 'chip', 'data-tag': t.key }, `${t.key}=${t.value}`)) : h('span', { class: 'muted' }, '—');
}

/** alias → version from the registered model, turned into version → aliases. */
function aliasesByVersion(model: RegisteredModel): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const a of model.aliases ?? []) map.set(String(a.version), [...(map.get(String(a.version)) ?? []), a.alias]);
  return map;
}

export async function modelsPage(ctx: PageContext): Promise<void> {
  document.title = 'Models · Ring-count tracking';
  replaceChildren(ctx.root, h('h1', null, 'Registered models'), loading('registered models'));
  const models: RegisteredModel[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await searchRegisteredModels(token);
      models.push(...page.registered_models);
      token = page.next_page_token;
    } while (token && ctx.isCurrent());
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, h('h1', null, 'Registered models'), errorBox((e as Error).message));
    return;
  }
  if (!ctx.isCurrent()) return;
  if (models.length === 0) {
    replaceChildren(ctx.root, h('h1', null, 'Registered models'),
      emptyState('No registered models yet',
        'Training registers them: run ', h('code', null, 'data-science/train.ipynb'),
        ', or register a run\'s model with the tracking client (registered-models/create, then model-versions/create).'));
    return;
  }
  const rows = models.map((m) => {
    const latest = [...(m.latest_versions ?? [])].sort((a, b) => Number(b.version) - Number(a.version))[0];
    return h('tr', { 'data-model': m.name },
      h('td', null, h('a', { href: link(['models', m.name]), class: 'model-link' }, m.name)),
      h('td', null, latest ? `Version ${latest.version}` : '—'),
      h('td', null, (m.aliases ?? []).length
        ? (m.aliases ?? []).map((a) => h('span', { class: 'chip alias', 'data-alias': a.alias }, `@${a.alias} → v${a.version}`))
        : h('span', { class: 'muted' }, '—')),
      h('td', null, formatTime(m.last_updated_timestamp)),
      h('td', { class: 'wrap' }, m.description ?? ''));
  });
  replaceChildren(ctx.root, h('h1', null, 'Registered models'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'models-table' },
      h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Latest version'), h('th', null, 'Aliases'), h('th', null, 'Last modified'), h('th', null, 'Description'))),
      h('tbody', null, rows))));
}

export async function modelPage(ctx: PageContext, name: string): Promise<void> {
  document.title = `${name} · Models · Ring-count tracking`;
  const crumbs = h('div', { class: 'breadcrumbs' }, h('a', { href: link(['models']) }, 'Models'), ' › ', name);
  replaceChildren(ctx.root, crumbs, h('h1', null, name), loading('model versions'));
  let model: RegisteredModel;
  let versions: ModelVersion[];
  try {
    [model, versions] = await Promise.all([getRegisteredModel(name), searchModelVersions({ name })]);
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, crumbs, h('h1', null, name), errorBox((e as Error).message));
    return;
  }
  // Name each source run (a handful of versions; a deleted run keeps showing its ID).
  const runIds = [...new Set(versions.map((v) => v.run_id).filter((id): id is string => Boolean(id)))];
  const runNames = new Map<string, string>();
  await Promise.all(runIds.map((id) => getRun(id).then((r) => runNames.set(id, runName(r)), () => undefined)));
  if (!ctx.isCurrent()) return;
  const byVersion = aliasesByVersion(model);

  const versionRows = versions.map((v) => {
    // Aliases come on the version (MLflow ≥ 2.3) and on the model; show the union.
    const aliases = [...new Set([...(v.aliases ?? []), ...(byVersion.get(String(v.version)) ?? [])])].sort();
    return h('tr', { 'data-version': v.version },
      h('td', null, h('strong', null, `Version ${v.version}`)),
      h('td', null, aliasChips(aliases)),
      h('td', null, h('span', { class: `badge ${v.status ?? ''}` }, v.status ?? '')),
      h('td', null, v.current_stage && v.current_stage !== 'None' ? v.current_stage : h('span', { class: 'muted' }, '—')),
      h('td', null, formatTime(v.creation_timestamp)),
      h('td', null, v.run_id ? h('a', { href: link(['runs', v.run_id]), class: 'source-run', title: `Run ${v.run_id}` }, runNames.get(v.run_id) ?? v.run_id) : h('span', { class: 'muted' }, '—')),
      h('td', null, tagChips(v.tags)),
      h('td', { class: 'wrap mono muted' }, v.source ?? ''),
      h('td', { class: 'wrap' }, v.description ?? ''));
  });

  replaceChildren(ctx.root, crumbs,
    h('h1', { 'data-testid': 'model-name' }, name),
    model.description ? h('p', { class: 'panel' }, model.description) : null,
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel' }, h('h2', null, 'Aliases'),
        keyValueTable((model.aliases ?? []).map((a) => ({ key: `@${a.alias}`, value: `Version ${a.version}` })),
          'No aliases. Set one (e.g. "champion") with registered-models/alias to let serving load a model by alias.', 'model-aliases')),
      h('section', { class: 'panel' }, h('h2', null, 'Tags'),
        keyValueTable((model.tags ?? []).map((t) => ({ key: t.key, value: t.value })), 'No tags set.', 'model-tags'))),
    h('section', { class: 'panel' }, h('h2', null, `Versions (${versions.length})`),
      versions.length === 0
        ? emptyState('No versions yet', 'Create one from a run with model-versions/create (source = the run\'s model artifacts).')
        : h('div', { class: 'table-wrap' }, h('table', { class: 'data', 'data-testid': 'versions-table' },
          h('thead', null, h('tr', null, ['Version', 'Aliases', 'Status', 'Stage', 'Created', 'Source run', 'Tags', 'Source', 'Description'].map((t) => h('th', null, t)))),
          h('tbody', null, versionRows)))));
}
