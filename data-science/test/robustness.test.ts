import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readCompounds, RobustnessInputError } from '../src/index.js';

const CLI = path.join(__dirname, '../src/evaluation/robustness-cli.js');

describe('evaluate:robustness input', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'robustness-test-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('keeps records with SMILES and a ring count and reports why it left each other one out', async () => {
    const file = path.join(dir, 'compounds.json');
    await writeFile(file, JSON.stringify([
      { compound_id: 'A', smiles: 'c1ccccc1', num_rings: 1 },
      { compound_id: 'B', smiles: '', num_rings: 0 },
      { compound_id: 'C', smiles: 'CCO', num_rings: -1 },
      { compound_id: 'A', smiles: 'CC', num_rings: 0 },
      'not a record',
    ]));
    const { compounds, skipped } = await readCompounds(file);
    expect(compounds).to.deep.equal([{ id: 'A', smiles: 'c1ccccc1', rings: 1 }]);
    expect(skipped).to.deep.equal([
      { id: 'B', reason: 'no smiles' },
      { id: 'C', reason: 'num_rings is not a non-negative integer' },
      { id: 'A', reason: 'duplicate compound_id' },
      { id: 'record 4', reason: 'no smiles' },
    ]);
  });

  it('refuses a missing file, invalid JSON and a non-array with a message saying what to pass', async () => {
    await writeFile(path.join(dir, 'bad.json'), '{"a":');
    await writeFile(path.join(dir, 'object.json'), '{"a":1}');
    for (const [file, message] of [['missing.json', /no compounds file .*pass --data/], ['bad.json', /is not valid JSON/], ['object.json', /must hold a JSON array/]] as const) {
      const err = await readCompounds(path.join(dir, file)).then(() => undefined, (e: unknown) => e);
      expect(err, file).to.be.instanceOf(RobustnessInputError);
      expect((err as Error).message, file).to.match(message);
    }
  });

  it('exits with status 2 and one clear line for bad options, an unknown variant or a missing model', function () {
    this.timeout(60_000);
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, INIT_CWD: dir } });
    const cases: Array<[string[], RegExp]> = [
      [['--limit', '-1'], /--limit must be a whole number ≥ 0, got -1/],
      [['--variants', 'sideways'], /unknown depiction variant "sideways"; known: rdkit-default/],
      [['--data', 'nowhere'], /no compounds file at .*nowhere.*pass --data/],
      [['--no-such-option'], /Unknown argument.*usage: npm run evaluate:robustness/s],
    ];
    for (const [args, message] of cases) {
      const result = run(...args);
      expect(result.status, args.join(' ')).to.equal(2);
      expect(result.stderr, args.join(' ')).to.match(message);
      expect(result.stderr, args.join(' ')).to.not.match(/\n\s+at /);
    }
  });

  it('says which model directory it could not load', async function () {
    this.timeout(60_000);
    await writeFile(path.join(dir, 'compounds.json'), JSON.stringify([{ compound_id: 'A', smiles: 'c1ccccc1', num_rings: 1 }]));
    const result = spawnSync(process.execPath, [CLI, '--data', '.', '--model', 'no-model'], { encoding: 'utf8', env: { ...process.env, INIT_CWD: dir } });
    expect(result.status).to.equal(2);
    expect(result.stderr).to.match(/cannot load the model in .*no-model.*pass --model/);
  });
});
