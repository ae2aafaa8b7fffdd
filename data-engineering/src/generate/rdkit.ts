import initRDKitModule from '@rdkit/rdkit';
import type { MainModule, Mol } from '@rdkit/rdkit';

export type RDKit = MainModule;

let rdkitPromise: Promise<RDKit> | undefined;

/** Loads the RDKit WASM module once per thread (about 100 ms). */
export function loadRDKit(): Promise<RDKit> {
  rdkitPromise ??= initRDKitModule();
  return rdkitPromise;
}

/** Runs `use` with a parsed molecule and always frees the WASM memory behind it. */
export function withMol<T>(rdkit: RDKit, smiles: string, use: (mol: Mol) => T): T | undefined {
  const mol = rdkit.get_mol(smiles);
  if (mol === null) return undefined;
  try {
    if (!mol.is_valid()) return undefined;
    return use(mol);
  } finally {
    mol.delete();
  }
}

/** The subset of RDKit's commonchem JSON (`Mol.get_json()`) this package reads. */
export interface MolJsonAtom {
  z: number;
  impHs: number;
  chg: number;
}
export interface MolJsonBond {
  bo: number;
  atoms: [number, number];
}

interface RawMolJson {
  defaults: { atom: Partial<MolJsonAtom>; bond: { bo?: number } };
  molecules: { atoms: Partial<MolJsonAtom>[]; bonds?: { bo?: number; atoms: [number, number] }[] }[];
}

/** Atoms and bonds of a molecule with RDKit's defaults filled in. */
export function readMolJson(mol: Mol): { atoms: MolJsonAtom[]; bonds: MolJsonBond[] } {
  const raw = JSON.parse(mol.get_json()) as RawMolJson;
  const first = raw.molecules[0];
  if (first === undefined) return { atoms: [], bonds: [] };
  const atomDefaults = { z: 6, impHs: 0, chg: 0, ...raw.defaults.atom };
  const bondDefault = raw.defaults.bond.bo ?? 1;
  return {
    atoms: first.atoms.map((a) => ({
      z: a.z ?? atomDefaults.z,
      impHs: a.impHs ?? atomDefaults.impHs,
      chg: a.chg ?? atomDefaults.chg,
    })),
    bonds: (first.bonds ?? []).map((b) => ({ bo: b.bo ?? bondDefault, atoms: b.atoms })),
  };
}

const ELEMENT_SYMBOLS: Readonly<Record<number, string>> = {
  0: '*', 1: 'H', 5: 'B', 6: 'C', 7: 'N', 8: 'O', 9: 'F', 14: 'Si', 15: 'P', 16: 'S', 17: 'Cl', 35: 'Br', 53: 'I',
};

export function elementSymbol(z: number): string {
  const symbol = ELEMENT_SYMBOLS[z];
  if (symbol === undefined) throw new Error(`no element symbol for atomic number ${z}`);
  return symbol;
}

/** Molecular formula in Hill order (C, H, then alphabetical), as ChEMBL writes it. */
export function hillFormula(atoms: readonly MolJsonAtom[]): string {
  const counts = new Map<string, number>();
  const add = (symbol: string, n: number): void => {
    if (n > 0) counts.set(symbol, (counts.get(symbol) ?? 0) + n);
  };
  let charge = 0;
  for (const atom of atoms) {
    add(elementSymbol(atom.z), 1);
    add('H', atom.impHs);
    charge += atom.chg;
  }
  const hasCarbon = counts.has('C');
  const order = [...counts.keys()].sort((a, b) => {
    if (hasCarbon) {
      for (const first of ['C', 'H']) {
        if (a === first) return -1;
        if (b === first) return 1;
      }
    }
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const body = order.map((symbol) => {
    const n = counts.get(symbol) ?? 0;
    return n === 1 ? symbol : `${symbol}${n}`;
  }).join('');
  if (charge === 0) return body;
  const magnitude = Math.abs(charge) === 1 ? '' : String(Math.abs(charge));
  return `${body}${charge > 0 ? '+' : '-'}${magnitude}`;
}
