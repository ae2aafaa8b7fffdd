import { MAX_INPUT_PIXELS } from '@ringcount/model-core';
import type { Deployment } from './model-manager.js';

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** The OpenAPI 3 document, built per request so it describes the model that is live right now. */
export function buildOpenApi(live: Deployment | undefined, opts: { maxBodyBytes: number; modelName: string }): Record<string, unknown> {
  const meta = live?.metadata;
  const labels = meta?.labels ?? [];
  const liveText = meta
    ? `Live model: **${live.version.label}** (registry version ${live.version.version}, ${meta.architecture}), input ${meta.inputShape.join('×')} ` +
      `(${meta.preprocessing.normalization} normalisation, flattened on ${meta.preprocessing.background}), predicts ring counts ${labels.join(', ')}; ` +
      `runs on ${live.engine.detail}.`
    : 'No model is deployed yet: prediction routes answer 503 until a version is promoted.';
  const upload = {
    required: true,
    content: {
      'multipart/form-data': {
        schema: {
          type: 'object',
          required: ['image'],
          properties: { image: { type: 'string', format: 'binary', description: `PNG, JPEG or WebP, at most ${opts.maxBodyBytes} bytes and ${MAX_INPUT_PIXELS} pixels` } },
        },
      },
    },
  };
  const predictResponses = {
    '200': { description: 'Predicted ring count', content: { 'application/json': { schema: { $ref: '#/components/schemas/Prediction' } } } },
    '400': errorResponse("Missing 'image' field, malformed multipart body, or an image that cannot be decoded"),
    '413': errorResponse('Body larger than the limit, or image dimensions too large'),
    '415': errorResponse('Image format other than PNG, JPEG or WebP'),
    '503': errorResponse('No model deployed yet'),
  };
  const version = { name: 'version', in: 'path', required: true, schema: { type: 'string' }, description: 'Version label (`v2`) or registry version number (`2`)' };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Ring count prediction API',
      version: live?.version.label ?? 'none',
      description: `Predicts the number of rings in a compound from its 2-D depiction, with registered model '${opts.modelName}'.\n\n${liveText}`,
    },
    paths: {
      '/': { get: { summary: 'Welcome message', responses: { '200': { description: 'Welcome' } } } },
      '/models/': { get: { summary: 'Registered versions and which is live', responses: { '200': { description: 'Versions' } } } },
      '/deployed_version/': { get: { summary: 'The version serving /predict/', responses: { '200': { description: 'Live version' }, '503': errorResponse('Nothing deployed') } } },
      '/predict/': { post: { summary: 'Predict with the live version', requestBody: upload, responses: predictResponses } },
      '/models/{version}/predict/': {
        post: { summary: 'Predict with a specific version (pinning)', parameters: [version], requestBody: upload, responses: { ...predictResponses, '404': errorResponse('Unknown version') } },
      },
      '/models/{version}/prepare': {
        post: {
          summary: 'Download, verify, load and warm a version without making it live (update-models.sh calls this before moving the alias)',
          parameters: [version],
          responses: { '200': { description: 'Ready to serve' }, '404': errorResponse('Unknown version'), '422': errorResponse('Refused: failed to download, verify or load') },
        },
      },
      '/health': { get: { summary: 'Liveness', responses: { '200': { description: 'Process is up' } } } },
      '/ready': { get: { summary: 'Readiness: a model is loaded', responses: { '200': { description: 'Ready' }, '503': errorResponse('No model loaded') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Text exposition format' } } } },
    },
    components: {
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
        Prediction: {
          type: 'object',
          required: ['n_rings_pred', 'version', 'probabilities'],
          properties: {
            n_rings_pred: { type: 'integer', ...(labels.length ? { enum: labels } : {}) },
            version: { type: 'string', example: live?.version.label ?? 'v1' },
            registry_version: { type: 'string' },
            probabilities: {
              type: 'object',
              description: 'Probability of each ring count',
              ...(labels.length ? { properties: Object.fromEntries(labels.map((l) => [String(l), { type: 'number' }])) } : { additionalProperties: { type: 'number' } }),
            },
          },
        },
      },
    },
  };
}
