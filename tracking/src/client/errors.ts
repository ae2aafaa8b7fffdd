/** Errors the typed client throws: one for MLflow API errors, one for a server that cannot be reached. */
export class MlflowApiError extends Error {
  constructor(
    readonly errorCode: string,
    readonly status: number,
    readonly endpoint: string,
    readonly serverMessage: string,
  ) {
    super(`${serverMessage} (${errorCode}, HTTP ${status} from ${endpoint})`);
    this.name = 'MlflowApiError';
  }
}

export class TrackingServerUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
  ) {
    super(
      `The tracking server at ${url} is not reachable (${code}). Start it with \`npm run tracking\`, or point MLFLOW_TRACKING_URI at a running server.`,
    );
    this.name = 'TrackingServerUnreachableError';
  }
}
