import { expect } from 'chai';
import { loadCatalogue } from '../src/generate/catalogue.js';
import { generateCompound, targetRingCount } from '../src/generate/compound.js';
import { SALT_FRAGMENTS } from '../src/generate/fragments.js';
import { buildMolecule } from '../src/generate/molecule-builder.js';
import { Random } from '../src/generate/random.js';
import { loadRDKit, withMol } from '../src/generate/rdkit.js';

/** The SMILES the builder writes for a tagged carbon, back to the untagged atom. */
const withoutStereo = (smiles: string): string => smiles.replace(/\[C@@?H?\]/g, 'C');

describe('generate: stereo and salt forms, as ChEMBL records them', () => {
  it('tags stereocentres without changing the structure drawn from the main stream', async () => {
    const rdkit = await loadRDKit();
    const catalogue = loadCatalogue(rdkit);
    let tagged = 0;
    let stereocentres = 0;
    for (let i = 0; i < 80; i++) {
      const target = targetRingCount(11, i);
      const plain = buildMolecule(new Random(11, i), catalogue, target);
      const stereo = buildMolecule(new Random(11, i), catalogue, target, { rng: new Random(99, i), molecules: 1, centres: 1 });
      expect(stereo === undefined ? undefined : withoutStereo(stereo), `compound ${i}`).to.equal(plain);
      if (stereo === undefined || !stereo.includes('@')) continue;
      tagged++;
      // RDKit keeps the tags of real stereocentres only; those are what get wedge and hash bonds.
      const canonical = withMol(rdkit, stereo, (mol) => mol.get_smiles());
      expect(canonical, stereo).to.be.a('string');
      if (canonical?.includes('@')) stereocentres++;
    }
    expect(tagged, 'molecules with a tagged carbon').to.be.greaterThan(20);
    expect(stereocentres, 'molecules RDKit sees stereocentres in').to.be.greaterThan(10);
  });

  it('draws some compounds with stereocentres and some as salts, with the parent ring count', async function () {
    this.timeout(60000);
    const rdkit = await loadRDKit();
    const catalogue = loadCatalogue(rdkit);
    const saltSmiles = new Set(SALT_FRAGMENTS.map((f) => withMol(rdkit, f.smiles, (mol) => mol.get_smiles())));
    const n = 120;
    let stereo = 0;
    let salts = 0;
    for (let i = 0; i < n; i++) {
      const { record } = await generateCompound(rdkit, catalogue, 3, i, { compact: true });
      expect(record.num_rings, record.smiles).to.equal(targetRingCount(3, i));
      if (record.smiles.includes('@')) stereo++;
      // RDKit's canonical SMILES may write the counter-ion first.
      const fragments = record.smiles.split('.');
      if (fragments.length === 1) continue;
      salts++;
      expect(fragments.filter((f) => !saltSmiles.has(f)), `${record.smiles}: one parent, the rest counter-ions`).to.have.length(1);
    }
    // Half the molecules are offered stereo tags and not all have a stereocentre; one in eight is a salt.
    expect(stereo / n, 'share with stereocentres').to.be.within(0.1, 0.5);
    expect(salts / n, 'share of salts').to.be.within(0.04, 0.25);
  });
});
