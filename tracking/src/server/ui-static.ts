import type Koa from 'koa';

/**
 * Serves the tracking web UI (everything outside /api, /ajax-api, /health, /version).
 * Placeholder until the UI lands: answers 404 for UI paths so API work is not blocked.
 */
export function uiStatic(): Koa.Middleware {
  return async (ctx, next) => {
    await next();
  };
}
