import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { expect } from 'chai';
import { COMPOUNDS_SCHEMA } from '../src/common/compound-schema.js';
import { loadRecordValidator } from '../src/ingest/schema.js';
import { fixtureSet, tempDir } from './fixtures.js';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const shippedSchemaFile = path.join(repoRoot, 'raw-data', 'schema.json');

const goodRecord = {
  compound_id: 'SYN000001', smiles: 'c1ccccc1', molecular_weight: 78.11, ALogP: 1.69, molecular_formula: 'C6H6',
  num_rings: 1, image: 'images/SYN000001.png',
  assay_results: [{ assay_id: 'SYNASSAY00001', target: 'EGFR', standard_type: 'IC50', standard_relation: '=', standard_value: 12.5, standard_units: 'nM', pchembl_value: 7.9 }],
};

describe('raw-data/schema.json', () => {
  const shipped = JSON.parse(fs.readFileSync(shippedSchemaFile, 'utf8')) as Record<string, unknown>;
  const validateArray = new Ajv2020({ allErrors: true }).compile(shipped);

  it('is the schema the generator writes', () => {
    expect(shipped).to.deep.equal(COMPOUNDS_SCHEMA);
  });

  it('accepts the shipped good records and a hand-written one', () => {
    const records = JSON.parse(fs.readFileSync(path.join(repoRoot, 'raw-data', 'compounds.json'), 'utf8')) as { compound_id?: string }[];
    const good = records.filter((r) => /^SYN\d+$/.test(r.compound_id ?? ''));
    expect(good.length).to.be.greaterThan(200);
    expect(validateArray([goodRecord]), JSON.stringify(validateArray.errors)).to.equal(true);
    // The shipped set has a duplicate id, which a schema cannot express; drop later copies.
    const unique = good.filter((r, i) => good.findIndex((o) => o.compound_id === r.compound_id) === i);
    expect(validateArray(unique), JSON.stringify(validateArray.errors?.slice(0, 3))).to.equal(true);
  });

  it('rejects bad items inside the array (not just a bad array)', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ ...goodRecord, compound_id: undefined }, '/0', "must have required property 'compound_id'"],
      [{ ...goodRecord, molecular_weight: '78.11' }, '/0/molecular_weight', 'must be number'],
      [{ ...goodRecord, num_rings: 2.5 }, '/0/num_rings', 'must be integer'],
      [{ ...goodRecord, num_rings: -1 }, '/0/num_rings', 'must be >= 0'],
      [{ ...goodRecord, image: undefined }, '/0', "must have required property 'image'"],
      [{ ...goodRecord, compound_id: '../etc' }, '/0/compound_id', 'must match pattern'],
      [{ ...goodRecord, molecular_formula: 'benzene' }, '/0/molecular_formula', 'must match pattern'],
      [{ ...goodRecord, assay_results: [{ assay_id: 'A1' }] }, '/0/assay_results/0', "must have required property 'standard_type'"],
    ];
    for (const [record, instancePath, message] of cases) {
      const item = JSON.parse(JSON.stringify(record)) as unknown;
      expect(validateArray([item]), `${instancePath} ${message}`).to.equal(false);
      const found = validateArray.errors?.some((e) => e.instancePath === instancePath && (e.message ?? '').startsWith(message));
      expect(found, `${instancePath} ${message} in ${JSON.stringify(validateArray.errors)}`).to.equal(true);
    }
    expect(validateArray({ records: [goodRecord] })).to.equal(false);
  });

  it('is what the ingest validates each record with', async () => {
    const { dir } = await fixtureSet();
    const validator = loadRecordValidator(path.join(dir, 'schema.json'));
    expect(validator.validate(goodRecord)).to.equal(true);
    expect(validator.validate({ ...goodRecord, num_rings: '1' })).to.equal(false);
    expect(validator.validate.errors?.[0]?.instancePath).to.equal('/num_rings');
  });

  it('applies an upstream-style schema (properties on the array) to each record, with a warning', () => {
    const file = path.join(tempDir('upstream-schema'), 'schema.json');
    fs.writeFileSync(file, JSON.stringify({
      $schema: 'http://json-schema.org/draft-07/schema#', type: 'array', required: ['compound_id'], properties: { compound_id: { type: 'string' } },
    }));
    const validator = loadRecordValidator(file);
    expect(validator.warning).to.contain("without 'items'");
    expect(validator.validate({ compound_id: 'X' })).to.equal(true);
    expect(validator.validate({ compound_id: 5 })).to.equal(false);
  });
});
