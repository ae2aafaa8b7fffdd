import sharp from 'sharp';
import { withMol, type RDKit } from './rdkit.js';
import type { Random } from './random.js';

/**
 * Ways one molecule can be drawn, to measure how much a model depends on how it is drawn rather than
 * on what is drawn: the layout engine, orientation, canvas size, line width, colours, stereo marks.
 * Each is RDKit with one thing changed from its defaults (the defaults are what ChEMBL's images use).
 */
export interface DepictionVariant {
  readonly name: string;
  readonly description: string;
  /** CoordGen instead of RDKit's own depictor for the 2-D layout. */
  readonly coordgen?: boolean;
  /** A random angle in [0, 360) per molecule. */
  readonly rotate?: boolean;
  /** Wedge and hash bonds (and E/Z marks) dropped: the molecule drawn without its stereo tags. */
  readonly withoutStereo?: boolean;
  /** MolDrawOptions (RDKit's JSON drawing options) on top of the canvas size. */
  readonly drawOptions?: Readonly<Record<string, unknown>>;
  /** Canvas side in pixels (300 unless given). */
  readonly size?: number;
}

export const DEFAULT_DEPICTION_SIZE = 300;

/** Every element the generator draws, in black: RDKit's palette otherwise colours heteroatoms. */
const MONOCHROME_PALETTE = Object.fromEntries([0, 1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 35, 53].map((z) => [String(z), [0, 0, 0]]));

export const DEPICTION_VARIANTS: readonly DepictionVariant[] = [
  { name: 'rdkit-default', description: "RDKit's depictor and drawing defaults, 300×300, upright" },
  { name: 'rotated', description: 'turned by a random angle', rotate: true },
  { name: 'coordgen', description: 'laid out by CoordGen instead of RDKit’s depictor', coordgen: true },
  { name: 'monochrome', description: 'every atom label black', drawOptions: { atomColourPalette: MONOCHROME_PALETTE } },
  { name: 'large-canvas', description: '500×500 canvas (finer lines relative to the molecule)', size: 500 },
  { name: 'small-canvas', description: '200×200 canvas', size: 200 },
  { name: 'thick-bonds', description: 'bond lines 3 px wide', drawOptions: { bondLineWidth: 3 } },
  { name: 'small-labels', description: 'atom labels at 60% of the default size', drawOptions: { baseFontSize: 0.36 } },
  { name: 'without-stereo', description: 'no wedge or hash bonds', withoutStereo: true },
];

/** Looks variants up by name; an unknown name is an error that lists the known ones. */
export function depictionVariants(names: readonly string[]): DepictionVariant[] {
  return names.map((name) => {
    const variant = DEPICTION_VARIANTS.find((v) => v.name === name);
    if (variant === undefined) {
      throw new Error(`unknown depiction variant "${name}"; known: ${DEPICTION_VARIANTS.map((v) => v.name).join(', ')}`);
    }
    return variant;
  });
}

/**
 * SMILES without tetrahedral tags (`[C@@H]` → `C`) or double-bond directions (`/`, `\`). Only
 * uncharged atoms of the organic subset are unbracketed, so their implicit hydrogens stay right.
 */
export function stripStereo(smiles: string): string {
  return smiles
    .replace(/\[(B|C|N|O|P|S|F|Cl|Br|I|c|n|o|p|s)@@?(H?)\]/g, (_, symbol: string, h: string) => (h === '' || symbol === 'C' || symbol === 'c' ? symbol : `[${symbol}${h}]`))
    .replace(/[/\\]/g, '');
}

/**
 * Draws `smiles` as the variant says and returns a PNG on white, or undefined when RDKit cannot
 * parse it. `rng` supplies the angle of rotated variants.
 */
export async function renderDepiction(rdkit: RDKit, smiles: string, variant: DepictionVariant, rng: Random): Promise<Buffer | undefined> {
  const size = variant.size ?? DEFAULT_DEPICTION_SIZE;
  const angle = variant.rotate ? Math.round(rng.uniform(0, 360) * 10) / 10 : undefined;
  const svg = withMol(rdkit, variant.withoutStereo ? stripStereo(smiles) : smiles, (mol) => {
    mol.set_new_coords(variant.coordgen === true);
    const options = { width: size, height: size, ...variant.drawOptions, ...(angle === undefined ? {} : { rotate: angle }) };
    return mol.get_svg_with_highlights(JSON.stringify(options));
  });
  if (svg === undefined) return undefined;
  return sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).png({ compressionLevel: 1 }).toBuffer();
}
