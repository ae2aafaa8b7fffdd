/** Entry point: routes the hash to a page and keeps the top navigation in sync. */
import { errorBox, h, replaceChildren } from './dom.js';
import { comparePage } from './pages/compare.js';
import { experimentsPage } from './pages/experiments.js';
import { modelPage, modelsPage } from './pages/models.js';
import { runPage } from './pages/run.js';
import { runsPage } from './pages/runs.js';
import { parseHash, type PageContext } from './router.js';

const root = document.getElementById('app') as HTMLElement;
let generation = 0;
let leaveHandlers: Array<() => void> = [];

function setActiveNav(section: string): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) a.classList.toggle('active', a.dataset.nav === section);
}

async function render(): Promise<void> {
  leaveHandlers.forEach((fn) => fn());
  leaveHandlers = [];
  const current = ++generation;
  const route = parseHash(location.hash);
  const ctx: PageContext = {
    root,
    route,
    isCurrent: () => current === generation,
    onLeave: (fn) => {
      if (current === generation) leaveHandlers.push(fn);
      else fn();
    },
  };
  const [section, id] = route.parts;
  setActiveNav(section === 'models' ? 'models' : 'experiments');
  window.scrollTo(0, 0);
  if (!section || (section === 'experiments' && id === undefined)) return experimentsPage(ctx);
  if (section === 'experiments' && id !== undefined) return runsPage(ctx, id);
  if (section === 'runs' && id !== undefined) return runPage(ctx, id);
  if (section === 'compare') return comparePage(ctx);
  if (section === 'models' && id === undefined) return modelsPage(ctx);
  if (section === 'models' && id !== undefined) return modelPage(ctx, id);
  document.title = 'Not found · Ring-count tracking';
  replaceChildren(root, h('h1', null, 'Page not found'), h('p', null, 'Nothing lives at this address. Go to the ', h('a', { href: '#/' }, 'experiments'), '.'));
}

function renderSafely(): void {
  render().catch((e: unknown) => {
    // A bug in a page must not leave a blank screen: show what failed.
    replaceChildren(root, errorBox(`Something went wrong: ${e instanceof Error ? e.message : String(e)}`));
    console.error(e);
  });
}

window.addEventListener('hashchange', renderSafely);
renderSafely();
