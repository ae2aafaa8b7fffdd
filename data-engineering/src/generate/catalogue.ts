import { ACYCLIC_BLOCKS, LINKERS, RING_SYSTEMS, SUBSTITUENTS, type FragmentSpec, type SubstituentSpec } from './fragments.js';
import { readMolJson, withMol, type RDKit } from './rdkit.js';

/** A fragment ready for gluing: atoms without the `*` placeholders, and where the placeholders were. */
export interface Fragment {
  readonly spec: FragmentSpec;
  readonly atoms: readonly { z: number; h: number; chg: number }[];
  readonly bonds: readonly { a: number; b: number; order: number }[];
  /** Atoms that were bonded to a `*`, with that bond's order (two for linkers, one for substituents). */
  readonly attachments: readonly { atom: number; order: number }[];
  /** Rings in the fragment as RDKit counts them (NumRings). */
  readonly ringCount: number;
}

export interface Substituent extends Fragment {
  readonly hosts: SubstituentSpec['hosts'];
}

export interface Catalogue {
  readonly ringSystems: readonly Fragment[];
  readonly acyclicBlocks: readonly Fragment[];
  readonly linkers: readonly Fragment[];
  readonly substituents: readonly Substituent[];
}

/** Parses every building block with RDKit (Kekulé form) and measures its ring count. */
export function loadCatalogue(rdkit: RDKit): Catalogue {
  const load = (spec: FragmentSpec): Fragment => {
    const fragment = withMol(rdkit, spec.smiles, (mol) => {
      const ringCount = (JSON.parse(mol.get_descriptors()) as { NumRings: number }).NumRings;
      mol.convert_to_kekule_form();
      return { ...toFragment(spec, readMolJson(mol)), ringCount };
    });
    if (fragment === undefined) throw new Error(`building block ${spec.name} has invalid SMILES ${spec.smiles}`);
    return fragment;
  };
  return {
    ringSystems: RING_SYSTEMS.map(load),
    acyclicBlocks: ACYCLIC_BLOCKS.map(load),
    linkers: LINKERS.map(load),
    substituents: SUBSTITUENTS.map((spec) => ({ ...load(spec), hosts: spec.hosts })),
  };
}

function toFragment(
  spec: FragmentSpec,
  json: ReturnType<typeof readMolJson>,
): Omit<Fragment, 'ringCount'> {
  const keep: number[] = [];
  const newIndex = new Map<number, number>();
  json.atoms.forEach((atom, i) => {
    if (atom.z !== 0) {
      newIndex.set(i, keep.length);
      keep.push(i);
    }
  });
  const atoms = keep.map((i) => {
    const atom = json.atoms[i];
    if (atom === undefined) throw new Error('unreachable');
    return { z: atom.z, h: atom.impHs, chg: atom.chg };
  });
  const bonds: { a: number; b: number; order: number }[] = [];
  const attachments: { atom: number; order: number }[] = [];
  for (const bond of json.bonds) {
    const [a, b] = bond.atoms.map((i) => newIndex.get(i));
    if (a !== undefined && b !== undefined) bonds.push({ a, b, order: bond.bo });
    else if (a !== undefined) attachments.push({ atom: a, order: bond.bo });
    else if (b !== undefined) attachments.push({ atom: b, order: bond.bo });
    // A bond between two `*` (the direct-bond linker) leaves no atoms and no attachments.
  }
  return { spec, atoms, bonds, attachments };
}
