/**
 * Worker thread of the generator: renders compounds for the indices it is sent and writes their PNGs.
 * RDKit's WASM module is single-threaded, so parallelism comes from one module per worker.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadCatalogue } from './catalogue.js';
import { generateCompound, type CompoundRecord } from './compound.js';
import { loadRDKit } from './rdkit.js';

export interface WorkerSetup {
  seed: number;
  imagesDir: string;
  compact: boolean;
}

export type WorkerRequest = { items: { index: number; redraw: number }[] };
export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'done'; records: { index: number; record: CompoundRecord }[] }
  | { kind: 'failed'; message: string };

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.js must run as a worker thread');
  const setup = workerData as WorkerSetup;
  const rdkit = await loadRDKit();
  const catalogue = loadCatalogue(rdkit);
  const reply = (message: WorkerReply): void => port.postMessage(message);

  port.on('message', (request: WorkerRequest) => {
    void (async () => {
      try {
        const records: { index: number; record: CompoundRecord }[] = [];
        for (const { index, redraw } of request.items) {
          const compound = await generateCompound(rdkit, catalogue, setup.seed, index, { compact: setup.compact }, redraw);
          await fs.promises.writeFile(path.join(setup.imagesDir, `${compound.record.compound_id}.png`), compound.png);
          records.push({ index, record: compound.record });
        }
        reply({ kind: 'done', records });
      } catch (error) {
        reply({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  reply({ kind: 'ready' });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ kind: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply);
});
