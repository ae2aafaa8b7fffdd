import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StagedOutput, removeStaleTempFiles } from '../common/atomic-output.js';
import { startProgress } from '../common/progress.js';
import { InputError } from './errors.js';
import { checkImage, type ImageCheckMode, type ImageProblem } from './image-check.js';
import { JsonArraySplitter, JsonFormatError } from './json-array-stream.js';
import { loadRecordValidator, schemaErrors } from './schema.js';

export const CSV_NAME = 'compound_rings.csv';
export const DATASET_NAME = 'dataset.json';
export const IMAGES_DIR = 'images';

/** Why a record was rejected; a record can have several. */
export type RejectReason = 'schema' | 'no_image' | 'image_path_escapes' | 'duplicate_id' | Exclude<ImageProblem, 'image_path_escapes'>;
export const REJECT_REASONS: readonly RejectReason[] = [
  'schema', 'no_image', 'image_path_escapes', 'duplicate_id', 'image_missing', 'image_not_png_or_jpeg', 'image_undecodable',
];

export interface DeadLetterError {
  reason: RejectReason;
  message: string;
  /** JSON pointer into the record (ajv's instancePath) for schema errors. */
  instancePath?: string;
  keyword?: string;
}

/** One line of the dead-letter log (JSON Lines). */
export interface DeadLetter {
  time: string;
  source: string;
  row: number;
  record_id: string | null;
  reasons: RejectReason[];
  errors: DeadLetterError[];
  record: unknown;
}

export interface IngestOptions {
  dataLoc: string;
  fileName: string;
  outputPath: string;
  dlqPath: string;
  /** Defaults to <dataLoc>/schema.json (the built-in schema when that is missing). */
  schemaPath?: string;
  imageCheck?: ImageCheckMode;
  /** Image files checked/copied at once. */
  concurrency?: number;
  log?: Logger;
  /** Force the progress display; by default a bar when stderr is a terminal. */
  tty?: boolean;
  /** Awaited after everything is staged, just before the swap (tests use it to simulate a crash). */
  beforeCommit?: () => void | Promise<void>;
}

export interface Logger {
  debug(line: string): void;
  info(line: string): void;
  warn(line: string): void;
}

export interface IngestSummary {
  records: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<RejectReason, number>;
  uniqueImages: number;
  seconds: number;
  /** CPU time of the whole process (all threads) during the ingest: robust to a busy machine. */
  cpuSeconds: number;
  recordsPerSecond: number;
  peakRssMb: number;
  digest: string;
  imageCheck: ImageCheckMode;
}

/** dataset.json: identifies the training set (training logs the digest and the generator's seed). */
export interface DatasetManifest {
  digest: string;
  digest_algorithm: string;
  csv: string;
  records: number;
  accepted: number;
  rejected: number;
  rejected_by_reason: Record<RejectReason, number>;
  images: number;
  image_check: ImageCheckMode;
  source: { file: string; generation: { seed: number; generator_version?: string; count?: number } | null };
}

interface Verdict {
  problem?: ImageProblem;
  message?: string;
  /** Path of the copy, relative to the output folder. */
  output?: string;
  sha256?: string;
}

interface ImageEntry {
  outputRel: string;
  verdict: Verdict | Promise<Verdict>;
  /** Whether a copy into the output was started (only images of accepted records are copied). */
  copied: boolean;
}

const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/**
 * Validates compounds.json record by record and writes the training set: compound_rings.csv, the
 * accepted images and dataset.json into outputPath, every rejected record to the dead-letter log.
 * Everything is staged and swapped in at the end; on any error the previous outputs stay untouched.
 */
export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const log = options.log ?? silentLogger;
  const mode = options.imageCheck ?? 'full';
  const dataRoot = fs.existsSync(options.dataLoc) ? fs.realpathSync(options.dataLoc) : path.resolve(options.dataLoc);
  const input = path.join(options.dataLoc, options.fileName);
  const inputSize = checkInputFile(input);
  const outputRoot = fs.existsSync(options.outputPath) ? fs.realpathSync(options.outputPath) : path.resolve(options.outputPath);
  if (outputRoot === dataRoot) {
    // Replacing images/ there would delete the raw images of every rejected record.
    throw new InputError(`--output_path ${options.outputPath} is the data folder itself; choose another folder`);
  }
  const validator = loadRecordValidator(options.schemaPath ?? path.join(options.dataLoc, 'schema.json'));
  if (validator.warning !== undefined) log.warn(validator.warning);
  log.info(`ingest: ${input} (${(inputSize / 1e6).toFixed(1)} MB), schema ${validator.source}, image checks: ${mode}`);

  const output = new StagedOutput(options.outputPath, 'ingest');
  fs.mkdirSync(path.dirname(path.resolve(options.dlqPath)), { recursive: true });
  removeStaleTempFiles(options.dlqPath);
  const dlqTemp = output.trackTempFile(`${options.dlqPath}.tmp-${process.pid}`);
  const csvFd = fs.openSync(output.staged(CSV_NAME), 'w');
  const dlqFd = fs.openSync(dlqTemp, 'w');
  const stagedImages = output.staged(IMAGES_DIR);
  fs.mkdirSync(stagedImages);
  const csvHash = createHash('sha256');
  const csv = new BufferedWriter(csvFd, (text) => csvHash.update(text));
  const dlq = new BufferedWriter(dlqFd);
  csv.write('compound_id,num_rings,image\n');

  const counts = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  let records = 0;
  let accepted = 0;
  const firstRowOfId = new Map<string, number>();
  // Each distinct image file is checked and hashed once, and copied once if a record using it is accepted.
  const images = new Map<string, ImageEntry>();
  const imageHashes = new Map<string, string>(); // output path -> sha256 of accepted images
  const usedOutputs = new Set<string>();
  const locations = new Map<string, { escape: string | undefined; file: string }>(); // image string -> where it points
  const inFlight: Promise<void>[] = [];
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const source = path.relative(process.cwd(), input) || input;
  const progress = startProgress({ label: 'ingest', total: inputSize, log: (l) => log.info(l), tty: options.tty, unit: 'bytes' });

  /** The verdict for an image file; the file is copied too if `acceptable` (the record passed every other check). */
  const verdictFor = (file: string, imagePath: string, acceptable: boolean): Verdict | Promise<Verdict> => {
    const entry = images.get(file);
    if (entry === undefined) {
      // The output name is settled now, in input order, so re-runs name files identically.
      const outputRel = uniqueOutputPath(outputImagePath(imagePath), usedOutputs);
      usedOutputs.add(outputRel);
      const created: ImageEntry = { outputRel, verdict: { problem: 'image_missing' }, copied: acceptable };
      created.verdict = checkImage(file, dataRoot, mode).then(async (result) => {
        let verdict: Verdict;
        if (result.problem !== undefined || result.bytes === undefined || result.sha256 === undefined) {
          verdict = { problem: result.problem ?? 'image_missing', message: result.message };
          if (result.detail !== undefined) log.debug(`ingest: ${file}: ${result.detail}`);
        } else {
          verdict = { output: outputRel, sha256: result.sha256 };
          if (acceptable) await copyImage(outputRel, result.sha256, result.bytes);
        }
        created.verdict = verdict;
        return verdict;
      });
      images.set(file, created);
      return created.verdict;
    }
    const known = entry.verdict;
    if (!acceptable || entry.copied) return known;
    entry.copied = true;
    const copying = entry;
    return Promise.resolve(known).then(async (verdict) => {
      if (verdict.output !== undefined && verdict.sha256 !== undefined) {
        await copyImage(copying.outputRel, verdict.sha256, await fs.promises.readFile(file));
      }
      return verdict;
    });
  };

  const copyImage = async (outputRel: string, sha256: string, bytes: Buffer): Promise<void> => {
    const target = path.join(output.stagingDir, outputRel);
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await fs.promises.writeFile(target, bytes);
    imageHashes.set(outputRel, sha256);
  };

  /** Runs the checks that need no I/O now; the returned function writes the outcome (in input order). */
  const handle = (record: unknown, row: number): { image: Verdict | Promise<Verdict> | undefined; finish: (image: Verdict | undefined) => void } => {
    const errors: DeadLetterError[] = [];
    const reasons = new Set<RejectReason>();
    const reject = (reason: RejectReason, message: string, extra: Partial<DeadLetterError> = {}): void => {
      reasons.add(reason);
      errors.push({ reason, message, ...extra });
    };
    const isObject = typeof record === 'object' && record !== null && !Array.isArray(record);
    const fields = (isObject ? record : {}) as Record<string, unknown>;
    const id = typeof fields.compound_id === 'string' || typeof fields.compound_id === 'number' ? String(fields.compound_id) : null;

    if (!validator.validate(record)) {
      for (const e of schemaErrors(validator.validate.errors)) {
        const missingImage = e.keyword === 'required' && e.message.includes("'image'");
        if (!missingImage) reject('schema', e.message, { instancePath: e.instancePath, keyword: e.keyword });
      }
    }
    if (!('image' in fields)) reject('no_image', "record has no 'image' key");
    if (id !== null) {
      const first = firstRowOfId.get(id);
      if (first !== undefined) reject('duplicate_id', `compound_id ${id} already used by row ${first} (only the first row with an id can be accepted)`);
      else firstRowOfId.set(id, row);
    }
    let verdict: Verdict | Promise<Verdict> | undefined;
    if (typeof fields.image === 'string' && fields.image.length > 0) {
      let location = locations.get(fields.image);
      if (location === undefined) {
        location = { escape: escapesDataFolder(fields.image, dataRoot), file: path.resolve(dataRoot, fields.image) };
        locations.set(fields.image, location);
      }
      if (location.escape !== undefined) reject('image_path_escapes', location.escape);
      else verdict = verdictFor(location.file, fields.image, reasons.size === 0);
    }

    const finish = (image: Verdict | undefined): void => {
      if (image?.problem !== undefined) reject(image.problem, image.message ?? image.problem);
      if (reasons.size === 0 && image?.output !== undefined) {
        accepted++;
        csv.write(`${csvField(id ?? '')},${String(fields.num_rings)},${csvField(image.output)}\n`);
        return;
      }
      for (const reason of reasons) counts[reason]++;
      const letter: DeadLetter = { time: new Date().toISOString(), source, row, record_id: id, reasons: [...reasons], errors, record };
      dlq.write(`${JSON.stringify(letter)}\n`);
      log.debug(`ingest: row ${row} (${id ?? 'no id'}) rejected: ${[...reasons].join(', ')}`);
    };
    return { image: verdict, finish };
  };

  let completed = false;
  try {
    const splitter = new JsonArraySplitter();
    const stream = fs.createReadStream(input, { highWaterMark: 1 << 20 });
    let pending: Promise<void> = Promise.resolve();
    let unwritten = 0; // records whose outcome waits for an earlier one or for their image check
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const record of splitter.push(chunk)) {
        const row = records++;
        // Results are written in input order: each record's output waits for the previous one.
        const { image, finish } = handle(record, row);
        if (!(image instanceof Promise) && unwritten === 0) {
          finish(image); // verdict known and nothing earlier waiting: write now, no promise needed
          continue;
        }
        unwritten++;
        pending = Promise.all([pending, image]).then(([, verdict]) => {
          unwritten--;
          finish(verdict);
        });
        pending.catch(() => undefined); // a failure is rethrown by the await below, not reported as unhandled
        inFlight.push(pending);
        if (inFlight.length >= concurrency) await inFlight.shift();
      }
      progress.increment(chunk.length);
    }
    splitter.finish();
    await Promise.all(inFlight);
    completed = true;
  } catch (error) {
    if (error instanceof JsonFormatError) throw new InputError(`${input} is not a valid JSON array: ${error.message}`);
    throw error;
  } finally {
    progress.stop();
    if (!completed) await Promise.allSettled(inFlight); // let image copies finish before their folder goes
    csv.close();
    dlq.close();
    if (!completed) output.abandon();
  }

  const digest = datasetDigest(csvHash.digest('hex'), imageHashes);
  const rejected = records - accepted;
  const manifest: DatasetManifest = {
    digest,
    digest_algorithm: 'sha256 over compound_rings.csv, then each image path and its sha256 in path order',
    csv: CSV_NAME,
    records,
    accepted,
    rejected,
    rejected_by_reason: counts,
    images: imageHashes.size,
    image_check: mode,
    source: { file: options.fileName, generation: readGeneration(options.dataLoc) },
  };
  try {
    fs.writeFileSync(output.staged(DATASET_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    await options.beforeCommit?.();
    // The CSV goes last: it is what readers open first, and it only appears once its images are there.
    output.commit([IMAGES_DIR, DATASET_NAME, CSV_NAME]);
    fs.renameSync(dlqTemp, options.dlqPath);
  } catch (error) {
    output.abandon();
    throw error;
  }

  const seconds = (performance.now() - started) / 1000;
  return {
    records,
    accepted,
    rejected,
    rejectedByReason: counts,
    uniqueImages: imageHashes.size,
    seconds,
    cpuSeconds: (() => {
      const cpu = process.cpuUsage(cpuAtStart);
      return (cpu.user + cpu.system) / 1e6;
    })(),
    recordsPerSecond: records / seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    digest,
    imageCheck: mode,
  };
}

/** Fails with a clear message unless `input` is a readable file that starts like a JSON array. */
function checkInputFile(input: string): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(input);
  } catch {
    throw new InputError(`input file not found: ${input} (check --data_loc and --file_name)`);
  }
  if (!stat.isFile()) throw new InputError(`input is not a file: ${input}`);
  const fd = fs.openSync(input, 'r');
  const head = Buffer.alloc(4096);
  const length = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  let text = head.subarray(0, length);
  if (text[0] === 0xff && text[1] === 0xfe || text[0] === 0xfe && text[1] === 0xff) {
    throw new InputError(`${input} is UTF-16 encoded; save it as UTF-8`);
  }
  if (text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf) text = text.subarray(3);
  const first = text.toString('utf8').trimStart()[0];
  if (first === undefined) throw new InputError(`${input} is empty; expected a JSON array of compound records`);
  if (first !== '[') throw new InputError(`${input} ${describeNonArray(input, stat.size)}; expected a JSON array of compound records`);
  return stat.size;
}

/** Says what the file holds instead of an array (parsing it whole only when it is small). */
function describeNonArray(input: string, size: number): string {
  if (size > 64 * 1024 * 1024) return 'does not start with [';
  try {
    const value: unknown = JSON.parse(fs.readFileSync(input, 'utf8').replace(/^\uFEFF/, ''));
    const kind = value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
    return `holds JSON ${kind}, not an array`;
  } catch (error) {
    return `is not valid JSON (${(error as Error).message})`;
  }
}

/** Why an image path points outside the data folder, or undefined if it stays inside. */
export function escapesDataFolder(image: string, dataRoot: string): string | undefined {
  if (path.isAbsolute(image) || path.win32.isAbsolute(image)) return `image path ${image} is absolute; it must be relative to the data folder`;
  const relative = path.relative(dataRoot, path.resolve(dataRoot, image));
  if (relative === '') return `image path ${image} names the data folder itself, not a file in it`;
  if (relative.startsWith('..') || path.isAbsolute(relative)) return `image path ${image} leads outside the data folder`;
  return undefined;
}

/** Appends -2, -3… before the extension if another source file already took `name`. */
function uniqueOutputPath(name: string, used: ReadonlySet<string>): string {
  if (!used.has(name)) return name;
  const ext = path.posix.extname(name);
  for (let n = 2; ; n++) {
    const candidate = `${name.slice(0, name.length - ext.length)}-${n}${ext}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** images/SYN1.png -> images/SYN1.png; pics/a/SYN1.png -> images/pics/a/SYN1.png. */
function outputImagePath(image: string): string {
  const parts = path.normalize(image).split(path.sep).filter((p) => p !== '' && p !== '.');
  if (parts[0] === IMAGES_DIR) parts.shift();
  return [IMAGES_DIR, ...parts].join('/');
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function datasetDigest(csvSha256: string, images: Map<string, string>): string {
  const hash = createHash('sha256').update(csvSha256);
  for (const name of [...images.keys()].sort()) hash.update(`\n${name}\n${images.get(name) ?? ''}`);
  return hash.digest('hex');
}

function readGeneration(dataLoc: string): DatasetManifest['source']['generation'] {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dataLoc, 'generation.json'), 'utf8')) as {
      seed?: unknown; generator_version?: unknown; count?: unknown;
    };
    if (typeof manifest.seed !== 'number') return null;
    return {
      seed: manifest.seed,
      generator_version: typeof manifest.generator_version === 'string' ? manifest.generator_version : undefined,
      count: typeof manifest.count === 'number' ? manifest.count : undefined,
    };
  } catch {
    return null;
  }
}

/** Collects small writes and flushes them to a file descriptor in 256 KB blocks. */
class BufferedWriter {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly fd: number, private readonly onWrite?: (text: string) => void) {}

  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 256 * 1024) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const block = this.parts.join('');
    this.onWrite?.(block);
    fs.writeSync(this.fd, block);
    this.parts = [];
    this.size = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}
