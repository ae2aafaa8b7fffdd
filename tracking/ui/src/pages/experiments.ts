/** Experiments list: every active experiment, most recently updated first. */
import { searchExperiments, type Experiment } from '../api.js';
import { emptyState, errorBox, h, loading, replaceChildren } from '../dom.js';
import { formatTime } from '../format.js';
import { link, type PageContext } from '../router.js';

export async function experimentsPage(ctx: PageContext): Promise<void> {
  document.title = 'Experiments · Ring-count tracking';
  replaceChildren(ctx.root, h('h1', null, 'Experiments'), loading('experiments'));
  const experiments: Experiment[] = [];
  let token: string | undefined;
  try {
    // Experiment counts stay small (tens); read every page so the list is complete.
    do {
      const page = await searchExperiments(token);
      experiments.push(...page.experiments);
      token = page.next_page_token || undefined;
    } while (token && ctx.isCurrent());
  } catch (e) {
    if (ctx.isCurrent()) replaceChildren(ctx.root, h('h1', null, 'Experiments'), errorBox((e as Error).message));
    return;
  }
  if (!ctx.isCurrent()) return;
  if (experiments.length === 0) {
    replaceChildren(ctx.root, h('h1', null, 'Experiments'),
      emptyState('No experiments yet',
        'Training creates one: run ', h('code', null, 'data-science/train.ipynb'),
        ' (or create one with the tracking client) while this server is running, then reload.'));
    return;
  }
  const rows = experiments.map((e) =>
    h('tr', { 'data-experiment-id': e.experiment_id },
      h('td', null, h('a', { href: link(['experiments', e.experiment_id]), class: 'experiment-link' }, e.name)),
      h('td', { class: 'mono' }, e.experiment_id),
      h('td', null, formatTime(e.creation_time)),
      h('td', null, formatTime(e.last_update_time)),
      h('td', { class: 'mono wrap muted' }, e.artifact_location ?? '')));
  replaceChildren(ctx.root,
    h('h1', null, 'Experiments'),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'data', 'data-testid': 'experiments-table' },
        h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'ID'), h('th', null, 'Created'), h('th', null, 'Last updated'), h('th', null, 'Artifact location'))),
        h('tbody', null, rows))));
}
