/**
 * JSON Schema (draft 2020-12) of compounds.json: an array whose *items* are compound records.
 * (The upstream schema put `required`/`properties` on the array itself, where they validate nothing.)
 * The generator writes this to `<out>/schema.json`; the ingest CLI validates each record with `items`.
 */
export const COMPOUNDS_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://ringcount.example/schemas/compounds.json',
  title: 'compounds.json',
  description: 'Compound records exported from ChEMBL (or generated like them), one 2-D depiction each.',
  type: 'array',
  items: {
    type: 'object',
    required: ['compound_id', 'smiles', 'num_rings', 'image'],
    properties: {
      compound_id: {
        type: 'string',
        pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
        maxLength: 64,
        description: 'Unique id such as CHEMBL25 or SYN000123; also used in output file names.',
      },
      smiles: { type: 'string', minLength: 1 },
      molecular_weight: { type: 'number', exclusiveMinimum: 0 },
      ALogP: { type: ['number', 'null'] },
      molecular_formula: { type: 'string', pattern: '^([A-Z][a-z]?[0-9]*)+([+-][0-9]*)?$' },
      num_rings: { type: 'integer', minimum: 0, description: 'Ring count (RDKit NumRings): the label to predict.' },
      image: {
        type: 'string',
        minLength: 1,
        description: 'Path of the PNG/JPEG depiction, relative to the folder holding compounds.json.',
      },
      assay_results: {
        type: 'array',
        items: {
          type: 'object',
          required: ['assay_id', 'standard_type', 'standard_value', 'standard_units'],
          properties: {
            assay_id: { type: 'string' },
            target: { type: 'string' },
            standard_type: { type: 'string' },
            standard_relation: { enum: ['=', '<', '>', '<=', '>=', '~'] },
            standard_value: { type: ['number', 'null'] },
            standard_units: { type: ['string', 'null'] },
            pchembl_value: { type: ['number', 'null'] },
          },
        },
      },
    },
  },
} as const;
