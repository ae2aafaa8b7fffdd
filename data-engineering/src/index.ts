/** Public API of @ringcount/data-engineering (the CLIs are src/generate/cli.ts and src/ingest/cli.ts). */
export { generateDataset, GENERATOR_VERSION, type GenerateOptions, type GenerateResult, type GenerationManifest } from './generate/generate.js';
export type { CompoundRecord, AssayResult } from './generate/compound.js';
export {
  ingest, CSV_NAME, DATASET_NAME, IMAGES_DIR, REJECT_REASONS,
  type IngestOptions, type IngestSummary, type DatasetManifest, type DeadLetter, type RejectReason,
} from './ingest/ingest.js';
export { InputError } from './ingest/errors.js';
export { COMPOUNDS_SCHEMA } from './common/compound-schema.js';
export { DEPICTION_VARIANTS, DEFAULT_DEPICTION_SIZE, depictionVariants, renderDepiction, stripStereo, type DepictionVariant } from './generate/depiction-variants.js';
export { loadRDKit, type RDKit } from './generate/rdkit.js';
export { Random } from './generate/random.js';
