/**
 * Artifacts on the local file system under one root. Every path is checked twice: lexically (no "..",
 * no absolute or empty segments, no NUL or backslash, after URL-decoding) and physically (the real path of
 * the target, or of its parent for uploads, stays under the real root, so symlinks cannot lead out).
 * Uploads stream to a temporary file beside the target and are renamed into place when complete.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidParam, MlflowError, notFound } from './errors.js';
import type { FileInfo } from '../store/types.js';

export class PayloadTooLargeError extends MlflowError {
  constructor(limit: number, actual?: number) {
    super(
      'INVALID_PARAMETER_VALUE',
      `Artifact upload${actual !== undefined ? ` of ${actual} bytes` : ''} exceeds the server's limit of ${limit} bytes. Split the file, or restart the server with a larger --max-artifact-bytes.`,
      413,
    );
  }
}

/** Splits a raw (still URL-encoded) artifact path into safe segments, or throws INVALID_PARAMETER_VALUE. */
export function safeSegments(rawPath: string, encoded: boolean): string[] {
  let decoded = rawPath;
  if (encoded) {
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      throw invalidParam(`Invalid artifact path '${rawPath}': malformed URL encoding.`);
    }
  }
  if (decoded === '') return [];
  const reject = (why: string): never => {
    throw invalidParam(`Invalid artifact path '${decoded}': ${why}. Use a relative path such as 'model/weights.bin'.`);
  };
  if (decoded.includes('\0')) reject('contains a NUL byte');
  if (decoded.includes('\\')) reject('contains a backslash');
  if (decoded.startsWith('/')) reject('absolute paths are not allowed');
  const segments = decoded.replace(/\/+$/, '').split('/');
  for (const s of segments) {
    if (s === '..') reject("'..' is not allowed");
    if (s === '' ) reject('empty path segments are not allowed');
  }
  return segments.filter((s) => s !== '.');
}

function isInside(root: string, target: string): boolean {
  return target === root || target.startsWith(root + sep);
}

export class LocalArtifactStore {
  private realRoot: string | undefined;

  constructor(
    readonly root: string,
    readonly maxUploadBytes: number,
  ) {}

  private async rootPath(): Promise<string> {
    if (!this.realRoot) {
      await mkdir(this.root, { recursive: true });
      this.realRoot = await realpath(this.root);
    }
    return this.realRoot;
  }

  /** The real path of an existing file or directory, or undefined when it does not exist. */
  private async existing(segments: string[]): Promise<string | undefined> {
    const root = await this.rootPath();
    let real: string;
    try {
      real = await realpath(join(root, ...segments));
    } catch {
      return undefined;
    }
    if (!isInside(root, real)) throw invalidParam(`Invalid artifact path '${segments.join('/')}': it resolves outside the artifact root.`);
    return real;
  }

  async upload(segments: string[], body: Readable, declaredLength: number | undefined): Promise<void> {
    if (segments.length === 0) throw invalidParam('An artifact upload needs a file path after /artifacts/.');
    if (declaredLength !== undefined && declaredLength > this.maxUploadBytes) throw new PayloadTooLargeError(this.maxUploadBytes, declaredLength);
    const root = await this.rootPath();
    const parentLexical = join(root, ...segments.slice(0, -1));
    await mkdir(parentLexical, { recursive: true });
    const parent = await realpath(parentLexical);
    if (!isInside(root, parent)) throw invalidParam(`Invalid artifact path '${segments.join('/')}': it resolves outside the artifact root.`);
    const target = join(parent, segments[segments.length - 1]!);
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw invalidParam(`Cannot upload to '${segments.join('/')}': a directory of that name exists.`);
    const temp = join(parent, `.upload-${randomBytes(8).toString('hex')}.tmp`);
    let received = 0;
    const limit = this.maxUploadBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        if (received > limit) done(new PayloadTooLargeError(limit));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(temp, { flags: 'wx' }));
      // rename() replaces a symlink at the target rather than writing through it.
      await rename(temp, target);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  async open(segments: string[]): Promise<{ stream: ReadStream; size: number }> {
    const real = await this.existing(segments);
    if (!real) throw notFound(`Artifact '${segments.join('/')}' does not exist.`);
    const info = await stat(real);
    if (info.isDirectory()) throw invalidParam(`Artifact '${segments.join('/')}' is a directory: list it with GET /api/2.0/mlflow-artifacts/artifacts?path=${segments.join('/')}.`);
    return { stream: createReadStream(real), size: info.size };
  }

  /** Lists one directory level; paths are relative to `relativeTo` (MLflow: the run's artifact root or the listed dir). */
  async list(segments: string[], pathPrefix: string): Promise<FileInfo[]> {
    const real = await this.existing(segments);
    if (!real) return [];
    const info = await stat(real);
    if (!info.isDirectory()) return [];
    const entries = await readdir(real, { withFileTypes: true });
    const files: FileInfo[] = [];
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.upload-') && e.name.endsWith('.tmp')) continue;
      const path = pathPrefix ? `${pathPrefix}/${e.name}` : e.name;
      if (e.isDirectory()) files.push({ path, is_dir: true });
      else if (e.isFile()) files.push({ path, is_dir: false, file_size: (await stat(join(real, e.name))).size });
    }
    return files;
  }

  async delete(segments: string[]): Promise<void> {
    if (segments.length === 0) throw invalidParam('Refusing to delete the artifact root: name a path after /artifacts/.');
    const root = await this.rootPath();
    const lexical = join(root, ...segments);
    const parent = await this.existing(segments.slice(0, -1));
    if (!parent) throw notFound(`Artifact '${segments.join('/')}' does not exist.`);
    const info = await lstat(lexical).catch(() => undefined);
    if (!info) throw notFound(`Artifact '${segments.join('/')}' does not exist.`);
    // A symlink is removed itself; its target (possibly outside the root) is never touched.
    await rm(join(parent, segments[segments.length - 1]!), { recursive: true, force: true });
  }
}
