import sharp from 'sharp';
import type { Catalogue } from './catalogue.js';
import { ASSAY_TARGETS, ASSAY_TYPES, SALT_FRAGMENTS } from './fragments.js';
import { buildMolecule } from './molecule-builder.js';
import { Random } from './random.js';
import { hillFormula, readMolJson, withMol, type RDKit } from './rdkit.js';

export const IMAGE_SIZE = 300;

/** One record of compounds.json in the upstream (ChEMBL export) format. */
export interface CompoundRecord {
  compound_id: string;
  smiles: string;
  molecular_weight: number;
  ALogP: number;
  molecular_formula: string;
  num_rings: number;
  image: string;
  assay_results: AssayResult[];
}

export interface AssayResult {
  assay_id: string;
  target: string;
  standard_type: string;
  standard_relation: '=' | '<' | '>';
  standard_value: number;
  standard_units: 'nM';
  pchembl_value: number | null;
}

/**
 * Ring-count classes are dealt from shuffled blocks so every class is equally common: each block of
 * 17 holds 0..7 twice and one molecule with 8 or more rings (8 most of the time, sometimes 9).
 */
export const CLASS_BLOCK_SIZE = 17;

/** Stereo tags (wedge and hash bonds in the depiction) on half the molecules, on most of their centres. */
const STEREO_MOLECULES = 0.5;
const STEREO_CENTRES = 0.75;
/** Share of compounds recorded as a salt or solvate (a second, ring-free fragment drawn beside them). */
const SALT_SHARE = 0.12;
/**
 * Mixed into the seed of the stream that draws stereo tags and salts: a stream of their own, so that
 * adding them left every structure, layout and record drawn from the main stream as it was.
 */
const VARIATION_SEED = 0x51e4e0;

export function targetRingCount(seed: number, index: number): number {
  const block = Math.floor(index / CLASS_BLOCK_SIZE);
  const rng = new Random(seed, 0x7f4a7c15 ^ block);
  const classes = [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, rng.chance(0.7) ? 8 : 9];
  for (let i = classes.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [classes[i], classes[j]] = [classes[j] as number, classes[i] as number];
  }
  return classes[index % CLASS_BLOCK_SIZE] as number;
}

export function compoundId(index: number): string {
  return `SYN${String(index + 1).padStart(6, '0')}`;
}

export interface GeneratedCompound {
  index: number;
  record: CompoundRecord;
  png: Buffer;
}

/** Options that RDKit's drawer accepts in get_svg_with_highlights (MolDrawOptions as JSON). */
interface DrawOptions {
  width: number;
  height: number;
  rotate?: number;
  bondLineWidth?: number;
  baseFontSize?: number;
  padding?: number;
}

/**
 * Generates compound `index` of the set for `seed`: structure, RDKit descriptors, depiction.
 * Everything is drawn from Random(seed, index), so a compound never depends on other compounds.
 */
export interface RenderOptions {
  /**
   * Palette PNG (64 colours, ~3× smaller, ~3× slower to encode) instead of RDKit's usual true-colour
   * PNG. Used for the raw-data/ shipped in the repository.
   */
  compact: boolean;
}

export async function generateCompound(
  rdkit: RDKit,
  catalogue: Catalogue,
  seed: number,
  index: number,
  options: RenderOptions = { compact: false },
  /** Redraw number: > 0 when an earlier draw for this index duplicated another compound. */
  redraw = 0,
): Promise<GeneratedCompound> {
  const target = targetRingCount(seed, index);
  const stream = redraw === 0 ? index : index + redraw * 0x3c6ef372;
  const rng = new Random(seed, stream);
  const variation = new Random(seed ^ VARIATION_SEED, stream);
  const stereo = { rng: variation, molecules: STEREO_MOLECULES, centres: STEREO_CENTRES };
  for (let attempt = 0; attempt < 200; attempt++) {
    const parent = buildMolecule(rng, catalogue, target, stereo);
    if (parent === undefined) continue;
    const smiles = variation.chance(SALT_SHARE) ? `${parent}.${saltFragments(variation)}` : parent;
    const drawn = withMol(rdkit, smiles, (mol) => {
      const descriptors = JSON.parse(mol.get_descriptors()) as { NumRings: number; amw: number; CrippenClogP: number };
      if (descriptors.NumRings !== target) return undefined;
      const formula = hillFormula(readMolJson(mol).atoms);
      mol.set_new_coords(rng.chance(0.25)); // a quarter of the layouts from CoordGen, the rest from RDKit's depictor
      const svg = mol.get_svg_with_highlights(JSON.stringify(drawOptions(rng)));
      return { canonical: mol.get_smiles(), descriptors, formula, svg };
    });
    if (drawn === undefined) continue;
    const id = compoundId(index);
    const image = sharp(Buffer.from(drawn.svg)).flatten({ background: '#ffffff' });
    const png = await (options.compact
      // 64 colours keep the anti-aliasing and the heteroatom colours of RDKit's palette.
      ? image.png({ palette: true, colours: 64, effort: 1, compressionLevel: 9 })
      : image.png({ compressionLevel: 3 })
    ).toBuffer();
    return {
      index,
      png,
      record: {
        compound_id: id,
        smiles: drawn.canonical,
        molecular_weight: round(drawn.descriptors.amw, 2),
        ALogP: round(drawn.descriptors.CrippenClogP, 2),
        molecular_formula: drawn.formula,
        num_rings: drawn.descriptors.NumRings,
        image: `images/${id}.png`,
        assay_results: assayResults(rng),
      },
    };
  }
  throw new Error(`could not build a molecule with ${target} rings for index ${index} (seed ${seed})`);
}

/** One counter-ion or solvate, sometimes two of it (a dihydrochloride, a dihydrate). */
function saltFragments(rng: Random): string {
  const salt = rng.weighted(SALT_FRAGMENTS, (fragment) => fragment.weight);
  return rng.chance(0.2) ? `${salt.smiles}.${salt.smiles}` : salt.smiles;
}

/**
 * Mostly RDKit's defaults (what ChEMBL's RDKit depictions use); some orientations rotated and a few
 * with slightly different line width, font size or margin, as depictions from other sources differ.
 */
function drawOptions(rng: Random): DrawOptions {
  const options: DrawOptions = { width: IMAGE_SIZE, height: IMAGE_SIZE };
  if (rng.chance(0.5)) options.rotate = round(rng.uniform(0, 360), 1);
  if (rng.chance(0.2)) options.bondLineWidth = round(rng.uniform(1.5, 2.5), 2);
  if (rng.chance(0.15)) options.baseFontSize = round(rng.uniform(0.5, 0.72), 2);
  if (rng.chance(0.2)) options.padding = round(rng.uniform(0.03, 0.12), 3);
  return options;
}

function assayResults(rng: Random): AssayResult[] {
  const count = rng.weighted([0, 1, 2, 3], (n) => [1, 4, 3, 2][n] ?? 0);
  return Array.from({ length: count }, () => {
    const valueNm = Math.pow(10, rng.uniform(-0.5, 4.5));
    const relation = rng.chance(0.85) ? '=' : rng.pick(['<', '>'] as const);
    return {
      assay_id: `SYNASSAY${String(rng.int(1, 99999)).padStart(5, '0')}`,
      target: rng.pick(ASSAY_TARGETS),
      standard_type: rng.pick(ASSAY_TYPES),
      standard_relation: relation,
      standard_value: round(valueNm, 2),
      standard_units: 'nM',
      pchembl_value: relation === '=' ? round(9 - Math.log10(valueNm), 2) : null,
    } satisfies AssayResult;
  });
}

function round(value: number, digits: number): number {
  const factor = Math.pow(10, digits);
  return Math.round(value * factor) / factor;
}
