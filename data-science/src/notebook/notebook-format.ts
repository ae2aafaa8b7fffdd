/** The subset of the Jupyter notebook format (nbformat v4) the runner reads and writes. */
import { accessSync, constants, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type MultilineText = string | string[];

export interface StreamOutput { output_type: 'stream'; name: 'stdout' | 'stderr'; text: MultilineText }
export interface DisplayDataOutput { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
export interface ExecuteResultOutput {
  output_type: 'execute_result'; data: Record<string, unknown>; metadata: Record<string, unknown>; execution_count: number | null;
}
export interface ErrorOutput { output_type: 'error'; ename: string; evalue: string; traceback: string[] }
export type CellOutput = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

export interface CellMetadata { tags?: string[]; [key: string]: unknown }
export interface CodeCell {
  cell_type: 'code'; id?: string; source: MultilineText; metadata: CellMetadata;
  outputs: CellOutput[]; execution_count: number | null;
}
export interface TextCell { cell_type: 'markdown' | 'raw'; id?: string; source: MultilineText; metadata: CellMetadata; attachments?: unknown }
export type Cell = CodeCell | TextCell;

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

/** Thrown for a notebook that cannot be read: the message says which file and what is wrong. */
export class NotebookInputError extends Error {
  override name = 'NotebookInputError';
}

export function sourceText(source: MultilineText): string {
  return Array.isArray(source) ? source.join('') : source;
}

export function hasTag(cell: Cell, tag: string): boolean {
  return Array.isArray(cell.metadata.tags) && cell.metadata.tags.includes(tag);
}

/** Reads and checks a v4 notebook; every problem becomes a NotebookInputError naming the file. */
export function readNotebook(path: string): Notebook {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NotebookInputError(code === 'ENOENT'
      ? `notebook not found: ${path} (give the path of an .ipynb file, relative to the current directory)`
      : `cannot read notebook ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new NotebookInputError(`${path} is not a notebook: invalid JSON (${(err as Error).message})`);
  }
  const nb = parsed as Partial<Notebook>;
  if (typeof nb !== 'object' || nb === null || !Array.isArray(nb.cells)) {
    throw new NotebookInputError(`${path} is not a Jupyter notebook: it has no "cells" list`);
  }
  if (nb.nbformat !== 4) {
    throw new NotebookInputError(`${path} is nbformat ${String(nb.nbformat)}; only nbformat 4 is supported (re-save it in Jupyter)`);
  }
  nb.cells.forEach((cell, i) => {
    if (!['code', 'markdown', 'raw'].includes(cell?.cell_type)) {
      throw new NotebookInputError(`${path}: cell ${i + 1} has unknown cell_type ${JSON.stringify(cell?.cell_type)}`);
    }
    cell.metadata ??= {};
    if (cell.cell_type === 'code') {
      cell.outputs ??= [];
      cell.execution_count ??= null;
    }
  });
  return { nbformat: 4, nbformat_minor: nb.nbformat_minor ?? 5, metadata: nb.metadata ?? {}, cells: nb.cells };
}

/** Fails early (before a long run) when the executed notebook could not be written to `path`. */
export function checkWritable(path: string): void {
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      throw new NotebookInputError(`-o ${path} is a directory; give the path of the .ipynb file to write`);
    }
    mkdirSync(dirname(path), { recursive: true });
    accessSync(dirname(path), constants.W_OK);
  } catch (err) {
    if (err instanceof NotebookInputError) throw err;
    throw new NotebookInputError(`cannot write the executed notebook to ${path}: ${(err as Error).message}; choose another -o`);
  }
}

/** Writes atomically (temp file + rename) so a reader never sees half a notebook. */
export function writeNotebook(path: string, nb: Notebook): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(nb, null, 1) + '\n');
  renameSync(tmp, path);
}

/** A short stable cell id (nbformat 4.5 requires ids; 1–64 chars of [a-zA-Z0-9-_]). */
export function newCellId(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}
