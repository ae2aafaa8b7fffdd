/**
 * An error a client can fix: its status and message go to the client as `{"error": "..."}`.
 * Anything else that escapes a handler is logged and answered with a generic 500.
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The registry could not be reached and the answer is not in the local cache either. */
export class RegistryUnavailableError extends Error {
  override name = 'RegistryUnavailableError';
}

/** A version that cannot be served: download, checksum, load or warm-up failed. */
export class VersionRefusedError extends Error {
  override name = 'VersionRefusedError';
}

/** Inference could not run right now (a worker crashed during the request and again on its retry). */
export class InferenceUnavailableError extends Error {
  override name = 'InferenceUnavailableError';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
