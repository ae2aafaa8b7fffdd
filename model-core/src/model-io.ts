import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type ModelMetadata, verifyModelDir } from './metadata.js';

/**
 * A TF.js IOHandler for a local directory (`model.json` + `weights.bin`), so saving and loading
 * models does not need `@tensorflow/tfjs-node` (which cannot install everywhere).
 */
export function fileSystemIO(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      await mkdir(dir, { recursive: true });
      const weightsManifest: tf.io.WeightsManifestConfig = [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }];
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest,
      };
      const weights = artifacts.weightData ? concatWeightData(artifacts.weightData) : new ArrayBuffer(0);
      await writeFile(path.join(dir, 'weights.bin'), Buffer.from(weights));
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of modelJson.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          if (p.includes('/') || p.includes('\\')) throw new Error(`model.json in ${dir} names an unsafe weights path '${p}'`);
          buffers.push(await readFile(path.join(dir, p)));
        }
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

function concatWeightData(data: tf.io.WeightData): ArrayBuffer {
  if (data instanceof ArrayBuffer) return data;
  return tf.io.concatenateArrayBuffers(data);
}

export interface LoadedModel {
  model: tf.LayersModel;
  metadata: ModelMetadata;
}

/** Verifies checksums, then loads the layers model; a modified or incomplete directory is refused. */
export async function loadModelDir(dir: string): Promise<LoadedModel> {
  const metadata = await verifyModelDir(dir);
  const model = await tf.loadLayersModel(fileSystemIO(dir));
  return { model, metadata };
}
