// The headless notebook runner against the real tslab kernel (through Debian's jupyter_client).
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CodeCell, Notebook } from '../src/notebook/notebook-format.js';
import { sourceText } from '../src/notebook/notebook-format.js';
import { declaredParameters, injectParameters, parseParameterArg } from '../src/notebook/parameters.js';

const RUNNER = resolve(__dirname, '../src/notebook/run-notebook.js');
const FIXTURES = resolve(__dirname, '../../test/fixtures/notebooks');

interface CliResult { code: number; stdout: string; stderr: string }

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((res) => {
    execFile(process.execPath, [RUNNER, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

function readNb(path: string): Notebook {
  return JSON.parse(readFileSync(path, 'utf8')) as Notebook;
}

function textOf(cell: CodeCell): string {
  return cell.outputs.map((o) => (o.output_type === 'stream' ? sourceText(o.text) : '')).join('');
}

/** nbformat's own schema check, run by Debian's python (the one Jupyter uses). */
function validateNotebook(path: string): Promise<void> {
  const check = `import nbformat; nbformat.validate(nbformat.read(${JSON.stringify(path)}, as_version=4))`;
  return new Promise((res, rej) => {
    execFile('/usr/bin/python3', ['-c', check], (err, _stdout, stderr) => (err ? rej(new Error(`invalid notebook: ${stderr}`)) : res()));
  });
}

describe('notebook parameters', () => {
  it('parses values as JSON when valid, else as strings', () => {
    expect(parseParameterArg('epochs=3')).to.deep.equal(['epochs', 3]);
    expect(parseParameterArg('verbose=true')).to.deep.equal(['verbose', true]);
    expect(parseParameterArg('version=v2')).to.deep.equal(['version', 'v2']);
    expect(parseParameterArg('tag="007"')).to.deep.equal(['tag', '007']);
    expect(parseParameterArg('sizes=[64,128]')).to.deep.equal(['sizes', [64, 128]]);
    expect(parseParameterArg('url=http://x:5000/a=b')).to.deep.equal(['url', 'http://x:5000/a=b']);
    expect(() => parseParameterArg('epochs')).to.throw(/not name=value/);
    expect(() => parseParameterArg('2x=1')).to.throw(/not a TypeScript identifier/);
  });

  it('finds the top-level declarations of the parameters cell', () => {
    const found = declaredParameters('let a = 1, b: string = "x";\nconst c = 2;\nfunction f() { let hidden = 1; }');
    expect(found).to.deep.equal([{ name: 'a', kind: 'let' }, { name: 'b', kind: 'let' }, { name: 'c', kind: 'const' }]);
  });

  it('assigns the values in a cell right after the parameters cell, replacing an earlier injection', () => {
    const nb = readNb(join(FIXTURES, 'parameters.ipynb'));
    const once = injectParameters(nb, new Map([['epochs', 3]]));
    const twice = injectParameters(once, new Map([['version', 'v2']]));
    const tags = twice.cells.map((c) => c.metadata.tags?.[0] ?? '');
    expect(tags.filter((t) => t === 'injected-parameters')).to.have.length(1);
    expect(tags.indexOf('injected-parameters')).to.equal(tags.indexOf('parameters') + 1);
    const injected = sourceText(twice.cells[tags.indexOf('injected-parameters')]!.source);
    expect(injected).to.contain('version = "v2";').and.not.contain('epochs');
  });

  it('refuses const parameters and parameters without a parameters cell', () => {
    const nb: Notebook = { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
      { cell_type: 'code', source: 'const epochs = 1;', metadata: { tags: ['parameters'] }, outputs: [], execution_count: null },
    ] };
    expect(() => injectParameters(nb, new Map([['epochs', 2]]))).to.throw(/declared with const.*declare it with let/);
    const untagged: Notebook = { ...nb, cells: [{ ...nb.cells[0]!, metadata: {} }] };
    expect(() => injectParameters(untagged, new Map([['epochs', 2]]))).to.throw(/no code cell tagged "parameters"/);
  });
});

type FixtureRun = CliResult & { nb: Notebook | null; out: string };

describe('notebook:run (real tslab kernel)', function () {
  this.timeout(300_000);
  let outDir: string;
  /** Every CLI run below, started together in `before` (a few at a time): kernel start dominates. */
  const runs = new Map<string, FixtureRun>();
  const cases: Record<string, [fixture: string, args: string[]]> = {
    params: ['parameters', ['-p', 'epochs=3', '-p', 'version=v2', '-p', 'verbose=true', '-p', 'rate=0.25']],
    typeError: ['type-error', []],
    throws: ['throws', []],
    rejects: ['rejects', []],
    unawaited: ['unawaited', []],
    wrongType: ['parameters', ['-p', 'epochs=many']],
    hangs: ['hangs', ['--timeout', '2']],
    exits: ['kernel-exits', []],
    unknownParam: ['parameters', ['-p', 'learningRate=0.1']],
    missing: ['no-such-notebook', []],
  };

  /** Runs a fixture; returns the CLI result and the executed notebook (null when none was written). */
  async function runFixture(name: string, extra: string[]): Promise<FixtureRun> {
    const out = join(outDir, `${name}-${Math.random().toString(36).slice(2)}.ipynb`);
    const result = await runCli([join(FIXTURES, `${name}.ipynb`), '-o', out, ...extra]);
    return { ...result, out, nb: existsSync(out) ? readNb(out) : null };
  }

  before(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'notebook-run-test-'));
    const queue = Object.entries(cases);
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [key, [fixture, args]] = next;
        runs.set(key, await runFixture(fixture, args));
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  });
  after(() => rmSync(outDir, { recursive: true, force: true }));
  const run = (key: keyof typeof cases): FixtureRun => runs.get(key)!;

  function expectFailureAt(run: CliResult & { nb: Notebook | null }, cellId: string, ename: RegExp, evalue: RegExp, exitCode = 1): CodeCell {
    expect(run.code, run.stderr).to.equal(exitCode);
    expect(run.stderr).to.match(new RegExp(`FAILED at cell \\d+ of \\d+ \\(id "${cellId}"`));
    expect(run.nb, 'executed notebook written').to.not.equal(null);
    const nb = run.nb!;
    const banner = nb.cells[0]!;
    expect(banner.cell_type).to.equal('markdown');
    expect(banner.metadata.tags).to.deep.equal(['error-banner']);
    expect(sourceText(banner.source)).to.contain('Notebook execution failed');
    const failing = nb.cells.find((c) => c.id === cellId) as CodeCell;
    const error = failing.outputs.find((o) => o.output_type === 'error');
    expect(error, 'error output on the failing cell').to.not.equal(undefined);
    if (error?.output_type !== 'error') throw new Error('unreachable');
    expect(error.ename).to.match(ename);
    expect(error.evalue).to.match(evalue);
    expect(error.traceback.join('\n')).to.not.contain('node_modules/tslab');
    // Cells after the failing one did not run.
    const after = nb.cells.slice(nb.cells.indexOf(failing) + 1).filter((c): c is CodeCell => c.cell_type === 'code');
    for (const cell of after) expect(cell.outputs, `outputs of ${cell.id}`).to.deep.equal([]);
    return failing;
  }

  it('injects parameters, runs every cell and writes outputs including images', async () => {
    const r = run('params');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('cell 5/5').and.contain('epochs=3 version=v2 verbose=true rate=0.25');
    const cells = r.nb!.cells.filter((c): c is CodeCell => c.cell_type === 'code');
    expect(cells.map((c) => c.metadata.tags?.[0] ?? '')).to.deep.equal(['parameters', 'injected-parameters', '', '', '']);
    expect(cells.map((c) => c.execution_count)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(cells[1]!.outputs, 'the injected assignments print nothing').to.deep.equal([]);
    expect(textOf(cells[2]!)).to.equal('epochs=3 version=v2 verbose=true rate=0.25\ntypeof epochs=number\n');
    expect(textOf(cells[3]!)).to.equal('double=6\n');
    const image = cells[4]!.outputs[0];
    expect(image?.output_type).to.equal('display_data');
    expect(image?.output_type === 'display_data' && typeof image.data['image/png']).to.equal('string');
    expect(r.nb!.cells.some((c) => c.metadata.tags?.includes('error-banner'))).to.equal(false);
    await validateNotebook(r.out);
  });

  it('fails on a type error, which tslab only writes to stderr', async () => {
    const r = run('typeError');
    const cell = expectFailureAt(r, 'c2', /^TypeScriptError$/, /Type 'string' is not assignable to type 'number'/);
    expect(r.stderr).to.contain('code cell 2 of 3');
    const first = r.nb!.cells.find((c) => c.id === 'c1') as CodeCell;
    expect(textOf(first)).to.equal('before the type error\n');
    expect(cell.execution_count).to.equal(2);
    await validateNotebook(r.out);
  });

  it('fails on a thrown exception', () => {
    const r = run('throws');
    expectFailureAt(r, 'c2', /^RangeError$/, /data set is empty/);
  });

  it('fails on an awaited rejected promise', () => {
    const r = run('rejects');
    const cell = expectFailureAt(r, 'c1', /^Error$/, /tracking server refused the run/);
    expect(textOf(cell), 'stdout before the failure is kept').to.equal('awaiting\n');
  });

  it('fails on a rejection nobody awaited, which tslab would lose', () => {
    const r = run('unawaited');
    expectFailureAt(r, 'c1', /Unawaited Error/, /metric lost in the background/);
  });

  it('fails a parameter of the wrong type in the injected cell', () => {
    const r = run('wrongType');
    const cell = expectFailureAt(r, (readNb(r.out).cells.find((c) => c.metadata.tags?.includes('injected-parameters'))!.id)!,
      /^TypeScriptError$/, /Type 'string' is not assignable to type 'number'/);
    expect(sourceText(cell.source)).to.contain('epochs = "many";');
  });

  it('interrupts a cell that exceeds --timeout', () => {
    const r = run('hangs');
    expectFailureAt(r, 'c1', /^CellTimeoutError$/, /did not finish within 2s/);
  });

  it('fails when the kernel process dies in a cell', () => {
    const r = run('exits');
    // Not asserted: the cell's last output, which a dying kernel may not have sent.
    expectFailureAt(r, 'c1', /^KernelDied$/, /kernel process exited while running this cell/);
  });

  it('rejects an unknown parameter, naming the known ones, before starting a kernel', () => {
    const r = run('unknownParam');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('unknown parameter "learningRate"').and.contain('epochs, version, verbose, rate');
    expect(r.stdout).to.not.contain('starting the tslab kernel');
    expect(sourceText(r.nb!.cells[0]!.source)).to.contain('unknown parameter "learningRate"');
  });

  it('reports a missing notebook file and writes nothing', () => {
    const r = run('missing');
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/notebook not found: .*no-such-notebook\.ipynb/);
    expect(r.nb).to.equal(null);
  });

  it('refuses an output path it cannot write before running anything', async () => {
    const aFile = join(outDir, 'plain-file');
    writeFileSync(aFile, 'not a directory');
    const r = await runCli([join(FIXTURES, 'trivial.ipynb'), '-o', join(aFile, 'out.ipynb')]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('cannot write the executed notebook to').and.contain('choose another -o');
    expect(r.stdout).to.not.contain('starting the tslab kernel');
  });

  it('on Ctrl+C interrupts the running cell, writes the notebook and exits 130', async () => {
    const out = join(outDir, 'interrupted.ipynb');
    const child = spawn(process.execPath, [RUNNER, join(FIXTURES, 'hangs.ipynb'), '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    // Signal once the cell is running (its output was forwarded), not after a guessed delay.
    await new Promise<void>((res) => child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('| waiting forever')) res();
    }));
    child.kill('SIGINT');
    const code = (await exit) ?? -1;
    expectFailureAt({ code, stdout, stderr, nb: readNb(out) }, 'c1', /^Interrupted$/, /stopped by SIGINT while this cell ran/, 130);
  });
});
