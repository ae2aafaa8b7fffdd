import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type Koa from 'koa';

/**
 * Serves the tracking web UI: everything that is not the API.
 *   /, /index.html and any other page-like path → index.html (the UI routes with #/...)
 *   /static/<file>   → tracking/ui/public (CSS, icon)
 *   /js/<file>       → tracking/dist/ui (the UI's compiled ES modules; `tsc -b tracking` builds them)
 *   /vendor/<file>   → uPlot's browser build from node_modules/uplot/dist
 * API-like paths nobody answered get MLflow's JSON 404; unknown asset files get a plain 404.
 * Mounted last, after the API routes.
 */
export interface UiStaticOptions {
  /** Folder with index.html and the static assets (default: tracking/ui/public). */
  publicDir?: string;
  /** Folder with the compiled UI scripts (default: tracking/dist/ui). */
  scriptDir?: string;
  /** Folder with uPlot's dist files (default: resolved from the uplot package). */
  vendorDir?: string;
}

/** Paths that belong to the API (MLflow's REST prefixes and the server's own endpoints). */
const API_PATH = /^\/(api|ajax-api)(\/|$)|^\/(health|version|metrics|get-artifact|model-versions\/get-artifact)(\/|$)/;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/** Only these uPlot files are exposed; nothing else from node_modules is reachable. */
const VENDOR_FILES = new Set(['uPlot.esm.js', 'uPlot.min.css', 'uPlot.iife.min.js']);

const TRACKING_ROOT = path.resolve(__dirname, '..', '..', '..');

function defaultVendorDir(): string {
  return path.dirname(require.resolve('uplot'));
}

/**
 * Resolves `relative` inside `root`, refusing anything that could leave it: "..", absolute or
 * drive paths, backslashes, NUL, dot-files, and symlinks pointing outside (checked with realpath).
 */
async function resolveInside(root: string, relative: string): Promise<string | undefined> {
  if (!relative || relative.includes('\0') || relative.includes('\\')) return undefined;
  const segments = relative.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.'))) return undefined;
  const candidate = path.resolve(root, ...segments);
  try {
    const [realRoot, realFile] = await Promise.all([fs.realpath(root), fs.realpath(candidate)]);
    if (!realFile.startsWith(realRoot + path.sep)) return undefined;
    const stat = await fs.stat(realFile);
    return stat.isFile() ? realFile : undefined;
  } catch {
    return undefined;
  }
}

/** The CSP allows the import map by its hash, so no other inline script can run even if markup were injected. */
function contentSecurityPolicy(html: string): string {
  const hashes = [...html.matchAll(/<script type="importmap">([\s\S]*?)<\/script>/g)]
    .map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`);
  return [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'", // uPlot positions its cursor and legend with inline styles
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
  ].join('; ');
}

export function uiStatic(options: UiStaticOptions = {}): Koa.Middleware {
  const publicDir = options.publicDir ?? path.join(TRACKING_ROOT, 'ui', 'public');
  const scriptDir = options.scriptDir ?? path.join(TRACKING_ROOT, 'dist', 'ui');
  const vendorDir = options.vendorDir ?? defaultVendorDir();
  let indexCache: { html: string; csp: string } | undefined;

  const loadIndex = async (): Promise<{ html: string; csp: string }> => {
    if (!indexCache) {
      const html = await fs.readFile(path.join(publicDir, 'index.html'), 'utf8');
      indexCache = { html, csp: contentSecurityPolicy(html) };
    }
    return indexCache;
  };

  const sendFile = async (ctx: Koa.Context, file: string, cacheControl: string): Promise<void> => {
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    ctx.status = 200;
    ctx.type = type;
    ctx.set('Cache-Control', cacheControl);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = await fs.readFile(file); // Koa answers HEAD with the headers only
  };

  const notFound = (ctx: Koa.Context, message: string): void => {
    ctx.status = 404;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = message;
  };

  return async (ctx, next) => {
    if (API_PATH.test(ctx.path)) {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        ctx.status = 404;
        ctx.body = { error_code: 'ENDPOINT_NOT_FOUND', message: `No API endpoint ${ctx.method} ${ctx.path}. See MLflow's REST API reference for the available endpoints.` };
      }
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        ctx.status = 405;
        ctx.set('Allow', 'GET, HEAD');
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = `The web UI only answers GET and HEAD; ${ctx.method} ${ctx.path} is not an API endpoint.`;
      }
      return;
    }

    let decoded: string;
    try {
      decoded = decodeURIComponent(ctx.path);
    } catch {
      notFound(ctx, `Malformed URL: ${ctx.path}`);
      return;
    }
    const asset = /^\/(static|js|vendor)\/(.*)$/.exec(decoded);
    if (asset) {
      const [, area, rel = ''] = asset;
      let file: string | undefined;
      if (area === 'static') file = await resolveInside(publicDir, rel);
      else if (area === 'js') file = /\.(js|map)$/.test(rel) ? await resolveInside(scriptDir, rel) : undefined;
      else if (VENDOR_FILES.has(rel)) file = await resolveInside(vendorDir, rel);
      if (!file) {
        const hint = area === 'js' ? ' If the UI scripts are missing, build them with `npx tsc -b tracking`.' : '';
        notFound(ctx, `Not found: ${ctx.path}.${hint}`);
        return;
      }
      // Scripts and styles change with every build and have no content hash in their names: revalidate.
      await sendFile(ctx, file, area === 'vendor' ? 'public, max-age=86400' : 'no-cache');
      return;
    }
    // Anything else with a file extension is a missing file, not a page.
    if (/\.[a-z0-9]{1,8}$/i.test(decoded) && decoded !== '/index.html') {
      notFound(ctx, `Not found: ${ctx.path}`);
      return;
    }
    let index: { html: string; csp: string };
    try {
      index = await loadIndex();
    } catch {
      ctx.status = 500;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `The web UI's index.html is missing from ${publicDir}; reinstall the tracking workspace.`;
      return;
    }
    ctx.status = 200;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Content-Security-Policy', index.csp);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.body = index.html;
  };
}
