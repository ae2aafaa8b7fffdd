import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { ingest, type DatasetManifest, type DeadLetter, type IngestOptions } from '../src/ingest/ingest.js';
import { FIXTURE_COUNT, FIXTURE_SEED, copyDir, fixtureSet, folderHashes, runCli, startPausedIngest, tempDir } from './fixtures.js';

interface Run {
  out: string;
  dlq: string;
  options: IngestOptions;
}

function prepare(dataLoc: string, name: string, extra: Partial<IngestOptions> = {}): Run {
  const work = tempDir(name);
  const out = path.join(work, 'data');
  const dlq = path.join(work, 'dlq.log');
  return { out, dlq, options: { dataLoc, fileName: 'compounds.json', outputPath: out, dlqPath: dlq, tty: false, ...extra } };
}

function deadLetters(dlq: string): DeadLetter[] {
  return fs.readFileSync(dlq, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as DeadLetter);
}

function csvRows(out: string): string[][] {
  return fs.readFileSync(path.join(out, 'compound_rings.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
}

describe('ingest', () => {
  it('accepts the good records, writes the CSV and copies only their images', async () => {
    const { dir } = await fixtureSet();
    const run = prepare(dir, 'ingest-good');
    const summary = await ingest(run.options);
    expect(summary.accepted).to.equal(FIXTURE_COUNT);
    const rows = csvRows(run.out);
    expect(rows[0]).to.deep.equal(['compound_id', 'num_rings', 'image']);
    expect(rows).to.have.length(FIXTURE_COUNT + 1);
    const records = JSON.parse(fs.readFileSync(path.join(dir, 'compounds.json'), 'utf8')) as { compound_id?: string; num_rings?: number }[];
    for (const [id, rings, image] of rows.slice(1)) {
      expect(fs.existsSync(path.join(run.out, image ?? '')), `${image} exists from the output folder`).to.equal(true);
      expect(Number(rings)).to.equal(records.find((r) => r.compound_id === id)?.num_rings);
    }
    expect(fs.readdirSync(path.join(run.out, 'images')).sort()).to.deep.equal(rows.slice(1).map((r) => path.basename(r[2] ?? '')).sort());
    const manifest = JSON.parse(fs.readFileSync(path.join(run.out, 'dataset.json'), 'utf8')) as DatasetManifest;
    expect(manifest.digest).to.equal(summary.digest).and.match(/^[0-9a-f]{64}$/);
    expect(manifest.source.generation?.seed).to.equal(FIXTURE_SEED);
    expect(fs.readdirSync(run.out).sort()).to.deep.equal(['compound_rings.csv', 'dataset.json', 'images']);
  });

  it('dead-letters every bad record with its reason, row, id, errors and the raw record', async () => {
    const { dir } = await fixtureSet();
    const run = prepare(dir, 'ingest-dlq');
    const summary = await ingest(run.options);
    const letters = deadLetters(run.dlq);
    expect(letters).to.have.length(summary.rejected);
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'compounds.json'), 'utf8')) as unknown[];
    const byId = new Map(letters.map((l) => [l.record_id, l]));
    for (const letter of letters) {
      expect(letter.record).to.deep.equal(raw[letter.row]);
      expect(new Date(letter.time).toISOString()).to.equal(letter.time);
      expect(letter.source).to.contain('compounds.json');
    }
    const reasonsOf = (id: string | null): string[] => byId.get(id)?.reasons ?? [];
    expect(reasonsOf(null)).to.deep.equal(['schema']);
    expect(byId.get(null)?.errors[0]?.message).to.equal("must have required property 'compound_id'");
    const wrongTypes = byId.get('SYNBAD02')?.errors.map((e) => [e.instancePath, e.message]);
    expect(wrongTypes).to.deep.include.members([['/molecular_weight', 'must be number'], ['/num_rings', 'must be integer']]);
    expect(reasonsOf('SYNBAD03')).to.deep.equal(['image_missing']);
    expect(reasonsOf('SYNBAD04')).to.deep.equal(['no_image']);
    expect(reasonsOf('SYNBAD05')).to.deep.equal(['image_undecodable']);
    expect(reasonsOf('SYNBAD06')).to.deep.equal(['image_not_png_or_jpeg']);
    expect(reasonsOf('SYNBAD07')).to.deep.equal(['image_path_escapes']);
    expect(reasonsOf('SYNBAD08')).to.deep.equal(['image_path_escapes']);
    expect(byId.get('SYNBAD08')?.errors[0]?.message).to.contain('absolute');
    expect(byId.get('SYNBAD10')?.errors.map((e) => e.instancePath)).to.deep.equal(['/num_rings']);
    const duplicate = letters.find((l) => l.reasons.includes('duplicate_id'));
    expect(duplicate?.record_id).to.match(/^SYN\d+$/);
    const firstRow = raw.findIndex((r) => (r as { compound_id?: string }).compound_id === duplicate?.record_id);
    expect(firstRow).to.be.lessThan(duplicate?.row ?? -1);
    expect(summary.rejectedByReason).to.deep.equal({
      schema: 3, no_image: 1, image_path_escapes: 2, duplicate_id: 1, image_missing: 1, image_not_png_or_jpeg: 1, image_undecodable: 1,
    });
  });

  it('accepts JPEGs and rejects symlinks that lead out of the data folder', async () => {
    const { dir } = await fixtureSet();
    const data = tempDir('ingest-jpeg');
    fs.mkdirSync(path.join(data, 'images'));
    await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ffffff' } }).jpeg().toFile(path.join(data, 'images', 'J1.jpg'));
    const outside = path.join(tempDir('outside'), 'secret.png');
    fs.copyFileSync(path.join(dir, 'images', 'SYN000001.png'), outside);
    fs.symlinkSync(outside, path.join(data, 'images', 'LINK.png'));
    const base = { smiles: 'C', num_rings: 0 };
    fs.writeFileSync(path.join(data, 'compounds.json'), JSON.stringify([
      { ...base, compound_id: 'J1', image: 'images/J1.jpg' },
      { ...base, compound_id: 'L1', image: 'images/LINK.png' },
    ]));
    const run = prepare(data, 'ingest-jpeg-out');
    const summary = await ingest(run.options);
    expect(summary.accepted).to.equal(1);
    expect(csvRows(run.out)[1]).to.deep.equal(['J1', '0', 'images/J1.jpg']);
    expect(deadLetters(run.dlq).map((l) => [l.record_id, l.reasons])).to.deep.equal([['L1', ['image_path_escapes']]]);
  });

  it('with --image_check exists only checks that image files exist', async () => {
    const { dir } = await fixtureSet();
    const run = prepare(dir, 'ingest-exists', { imageCheck: 'exists' });
    const summary = await ingest(run.options);
    // The truncated PNG and the text file named .png exist, so only full checks reject them.
    expect(summary.accepted).to.equal(FIXTURE_COUNT + 2);
    expect(summary.rejectedByReason.image_undecodable + summary.rejectedByReason.image_not_png_or_jpeg).to.equal(0);
  });

  it('reads a file with a UTF-8 BOM exactly like one without', async () => {
    const { dir } = await fixtureSet();
    const withBom = copyDir(dir, 'ingest-bom');
    const file = path.join(withBom, 'compounds.json');
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fs.readFileSync(file)]));
    const plain = prepare(dir, 'ingest-nobom');
    const bom = prepare(withBom, 'ingest-bom-out');
    const a = await ingest(plain.options);
    const b = await ingest(bom.options);
    expect(b.records).to.equal(a.records);
    expect(folderHashes(bom.out)).to.deep.equal(folderHashes(plain.out));
  });

  it('gives the same outputs when re-run on the same input', async () => {
    const { dir } = await fixtureSet();
    const run = prepare(dir, 'ingest-rerun');
    await ingest(run.options);
    const first = folderHashes(run.out);
    const firstLetters = deadLetters(run.dlq).map(({ time: _t, ...rest }) => rest);
    await ingest(run.options);
    expect(folderHashes(run.out)).to.deep.equal(first);
    expect(deadLetters(run.dlq).map(({ time: _t, ...rest }) => rest)).to.deep.equal(firstLetters);
  });

  it('leaves the previous outputs untouched when a run fails before the swap', async () => {
    const { dir } = await fixtureSet();
    const run = prepare(dir, 'ingest-atomic');
    await ingest(run.options);
    const before = folderHashes(run.out);
    const dlqBefore = fs.readFileSync(run.dlq, 'utf8');
    // A different input, so a completed run would change the outputs.
    const changed = copyDir(dir, 'ingest-atomic-input');
    const records = JSON.parse(fs.readFileSync(path.join(changed, 'compounds.json'), 'utf8')) as unknown[];
    fs.writeFileSync(path.join(changed, 'compounds.json'), JSON.stringify(records.slice(0, 5)));
    let staged: string[] = [];
    const failing = { ...run.options, dataLoc: changed, beforeCommit: () => {
      staged = fs.readdirSync(run.out).filter((e) => e.startsWith('.ingest-staging-'));
      throw new Error('simulated crash before rename');
    } };
    let error: unknown;
    try {
      await ingest(failing);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.equal('simulated crash before rename');
    expect(staged, 'outputs were staged beside the real ones').to.have.length(1);
    expect(folderHashes(run.out)).to.deep.equal(before);
    expect(fs.readdirSync(run.out).filter((e) => e.startsWith('.'))).to.deep.equal([]);
    expect(fs.readFileSync(run.dlq, 'utf8')).to.equal(dlqBefore);
    // Without the failure the same run replaces everything.
    await ingest({ ...failing, beforeCommit: undefined });
    expect(csvRows(run.out).length).to.be.lessThan(6);
  });

  it('cleans up the staging folder a killed run left behind', async () => {
    const { dir } = await fixtureSet();
    const run = prepare(dir, 'ingest-stale');
    await ingest(run.options);
    const before = folderHashes(run.out);
    // What SIGKILL mid-run leaves: a staging folder of a process that no longer exists.
    const stale = path.join(run.out, '.ingest-staging-999999999');
    fs.mkdirSync(path.join(stale, 'images'), { recursive: true });
    fs.writeFileSync(path.join(stale, 'compound_rings.csv'), 'compound_id,num_rings,image\nHALF');
    expect(folderHashes(run.out)).to.not.deep.equal(before); // the leftover is visible...
    await ingest(run.options);
    expect(fs.existsSync(stale)).to.equal(false); // ...until the next run removes it
    expect(folderHashes(run.out)).to.deep.equal(before);
  });
});

describe('ingest CLI', () => {
  let dataLoc: string;
  let out: string;
  let dlq: string;

  before(async () => {
    ({ dir: dataLoc } = await fixtureSet());
    const work = tempDir('cli');
    out = path.join(work, 'data');
    dlq = path.join(work, 'ingest', 'dlq.log');
    const result = runCli('ingest', ['--data_loc', dataLoc, '--file_name', 'compounds.json', '--output_path', out, '--dlq', dlq]);
    expect(result.status, result.stderr).to.equal(0);
  });

  /** Runs the CLI on a broken input against the same outputs, and checks they were left alone. */
  function failing(content: string | Buffer | undefined, extraArgs: string[] = []): { status: number | null; stderr: string } {
    const data = tempDir('cli-bad');
    fs.copyFileSync(path.join(dataLoc, 'schema.json'), path.join(data, 'schema.json'));
    if (content !== undefined) fs.writeFileSync(path.join(data, 'compounds.json'), content);
    const good = folderHashes(out);
    const goodDlq = fs.readFileSync(dlq, 'utf8');
    // At --log_level warn the start-up info line is silent, so stderr holds only the error.
    const result = runCli('ingest', ['--data-loc', data, '--file-name', 'compounds.json', '--output-path', out, '--dlq', dlq, '--log-level', 'warn', ...extraArgs]);
    expect(folderHashes(out), 'previous outputs untouched').to.deep.equal(good);
    expect(fs.readFileSync(dlq, 'utf8'), 'previous dead-letter log untouched').to.equal(goodDlq);
    return result;
  }

  function expectOneLineError(result: { status: number | null; stderr: string }, text: string): void {
    expect(result.status).to.equal(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^ingest: /).and.contain(text);
    expect(result.stderr).to.not.contain('    at '); // no stack trace
  }

  it('prints a summary with counts per reason and the time taken', () => {
    const result = runCli('ingest', ['--data_loc', dataLoc, '--output_path', out, '--dlq', dlq]);
    expect(result.status).to.equal(0);
    expect(result.stderr).to.match(/ingest: 30 records: 20 accepted, 10 rejected \(schema=3, no_image=1, image_path_escapes=2, duplicate_id=1/);
    expect(result.stderr).to.match(/records\/s, peak RSS \d+ MB/);
    expect(result.stderr).to.not.contain('\r'); // not a terminal: plain lines, no progress bar
  });

  it('fails clearly on a missing input file', () => {
    expectOneLineError(failing(undefined), 'input file not found');
  });

  it('fails clearly on a file that is not JSON', () => {
    expectOneLineError(failing('compound_id,num_rings\nSYN1,3\n'), 'is not valid JSON');
  });

  it('fails clearly on JSON that is not an array', () => {
    expectOneLineError(failing('{"compound_id": "SYN1"}'), 'holds JSON an object, not an array');
  });

  it('fails clearly on an array cut short, even after good records', () => {
    const records = fs.readFileSync(path.join(dataLoc, 'compounds.json'), 'utf8');
    expectOneLineError(failing(records.slice(0, Math.floor(records.length / 2))), 'is not a valid JSON array');
  });

  it('fails clearly on an empty or UTF-16 file', () => {
    expectOneLineError(failing(''), 'is empty');
    expectOneLineError(failing(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('[]', 'utf16le')])), 'UTF-16');
  });

  it('refuses to write its outputs over the data folder', () => {
    const data = copyDir(dataLoc, 'cli-same-folder');
    const before = folderHashes(data);
    const result = runCli('ingest', ['--data_loc', data, '--output_path', data, '--dlq', path.join(tempDir('cli-same-dlq'), 'dlq.log'), '--log_level', 'warn']);
    expectOneLineError(result, 'is the data folder itself');
    expect(folderHashes(data)).to.deep.equal(before);
  });

  it('fails clearly on unknown flags and bad flag values', () => {
    expectOneLineError(failing('[]', ['--colour', 'red']), 'Unknown argument');
    expectOneLineError(failing('[]', ['--image_check', 'pixels']), 'image_check');
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} mid-run deletes the staged outputs and leaves the previous ones untouched`, async () => {
      const before = folderHashes(out);
      const dlqBefore = fs.readFileSync(dlq, 'utf8');
      const small = copyDir(dataLoc, `cli-${signal}`);
      const records = JSON.parse(fs.readFileSync(path.join(small, 'compounds.json'), 'utf8')) as unknown[];
      fs.writeFileSync(path.join(small, 'compounds.json'), JSON.stringify(records.slice(0, 3)));
      const { child, exit } = await startPausedIngest(['--data_loc', small, '--output_path', out, '--dlq', dlq]);
      expect(fs.readdirSync(path.dirname(out)).concat(fs.readdirSync(out)).some((e) => e.startsWith('.ingest-staging-')), 'staged').to.equal(true);
      child.kill(signal);
      const { code, stderr } = await exit;
      expect(code).to.equal(signal === 'SIGINT' ? 130 : 143);
      expect(stderr).to.contain(`interrupted by ${signal}: nothing was replaced`);
      expect(folderHashes(out)).to.deep.equal(before);
      expect(fs.readdirSync(out).filter((e) => e.startsWith('.'))).to.deep.equal([]);
      expect(fs.readFileSync(dlq, 'utf8')).to.equal(dlqBefore);
      expect(fs.readdirSync(path.dirname(dlq))).to.deep.equal([path.basename(dlq)]);
    });
  }

  it('SIGKILL mid-run leaves the previous outputs untouched; the next run removes the leftovers', async () => {
    const before = folderHashes(out);
    const { child, exit } = await startPausedIngest(['--data_loc', dataLoc, '--output_path', out, '--dlq', dlq]);
    child.kill('SIGKILL');
    expect((await exit).signal).to.equal('SIGKILL');
    expect(fs.readdirSync(path.dirname(dlq)).filter((e) => e.includes('.tmp-'))).to.have.length(1);
    const leftovers = fs.readdirSync(out).filter((e) => e.startsWith('.ingest-staging-'));
    expect(leftovers).to.have.length(1);
    const visible = Object.fromEntries(Object.entries(folderHashes(out)).filter(([file]) => !file.startsWith('.')));
    expect(visible).to.deep.equal(before);
    const rerun = runCli('ingest', ['--data_loc', dataLoc, '--output_path', out, '--dlq', dlq]);
    expect(rerun.status).to.equal(0);
    expect(fs.readdirSync(out).filter((e) => e.startsWith('.'))).to.deep.equal([]);
    expect(fs.readdirSync(path.dirname(dlq))).to.deep.equal([path.basename(dlq)]); // the killed run's temporary log is gone too
  });

  it('explains its flags with --help', () => {
    const result = runCli('ingest', ['--help']);
    expect(result.status).to.equal(0);
    for (const flag of ['--data_loc', '--file_name', '--output_path', '--dlq', '--log_level', '--image_check']) expect(result.stdout).to.contain(flag);
  });

  it('honours --log_level', () => {
    const quiet = runCli('ingest', ['--data_loc', dataLoc, '--output_path', out, '--dlq', dlq, '--log_level', 'warn']);
    expect(quiet.status).to.equal(0);
    expect(quiet.stderr).to.equal('');
    const verbose = runCli('ingest', ['--data_loc', dataLoc, '--output_path', out, '--dlq', dlq, '--log_level', 'debug']);
    expect(verbose.stderr).to.match(/row \d+ \(SYNBAD05\) rejected: image_undecodable/);
  });
});
