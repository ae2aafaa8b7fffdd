import { expect } from 'chai';
import sharp from 'sharp';
import { DEPICTION_VARIANTS, depictionVariants, loadRDKit, Random, renderDepiction, stripStereo } from '../src/index.js';

describe('depiction variants (robustness drawings)', () => {
  it('strips tetrahedral and double-bond stereo, keeping hydrogens on bracketed heteroatoms', () => {
    expect(stripStereo('C[C@@H](N)C(=O)O')).to.equal('CC(N)C(=O)O');
    expect(stripStereo('F/C=C\\F')).to.equal('FC=CF');
    expect(stripStereo('C[C@]1(O)CC[N@@H]1')).to.equal('CC1(O)CC[NH]1');
  });

  it('names the known variants when asked for an unknown one', () => {
    expect(depictionVariants(['rotated']).map((v) => v.name)).to.deep.equal(['rotated']);
    expect(() => depictionVariants(['rotated', 'sideways'])).to.throw(/unknown depiction variant "sideways"; known: rdkit-default, rotated/);
  });

  it('draws each variant as a PNG of its canvas size, differently from the default, and refuses bad SMILES', async function () {
    this.timeout(30_000);
    const rdkit = await loadRDKit();
    const smiles = 'C[C@@H](Cl)c1ccc2ccccc2n1';
    const drawings = new Map<string, Buffer>();
    for (const variant of DEPICTION_VARIANTS) {
      const png = await renderDepiction(rdkit, smiles, variant, new Random(1, 2));
      expect(png, variant.name).to.not.equal(undefined);
      const meta = await sharp(png).metadata();
      expect(meta.format, variant.name).to.equal('png');
      expect(meta.width, variant.name).to.equal(variant.size ?? 300);
      drawings.set(variant.name, png as Buffer);
    }
    const pixels = async (name: string) => sharp(drawings.get(name)).removeAlpha().raw().toBuffer();
    const base = await pixels('rdkit-default');
    for (const name of ['rotated', 'coordgen', 'thick-bonds', 'without-stereo', 'monochrome']) {
      expect((await pixels(name)).equals(base), `${name} differs from the default drawing`).to.equal(false);
    }
    expect(await renderDepiction(rdkit, 'C1CC(', DEPICTION_VARIANTS[0]!, new Random(1))).to.equal(undefined);
  });
});
