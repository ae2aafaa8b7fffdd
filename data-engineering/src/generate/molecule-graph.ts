import { elementSymbol } from './rdkit.js';

/**
 * A small molecular graph in Kekulé form, enough to glue fragments together and write SMILES.
 * `h` is the number of hydrogens an atom still carries, i.e. how many more bonds it can take.
 */
export interface GraphAtom {
  z: number;
  h: number;
  chg: number;
  /**
   * Tetrahedral tag as SMILES writes it (`@` or `@@`, relative to the order the neighbours are
   * written in). RDKit keeps it only on real stereocentres and then draws wedge and hash bonds.
   */
  chirality?: '@' | '@@';
}

export interface GraphBond {
  a: number;
  b: number;
  order: number;
}

export class MoleculeGraph {
  readonly atoms: GraphAtom[] = [];
  readonly bonds: GraphBond[] = [];

  addAtom(atom: GraphAtom): number {
    this.atoms.push({ ...atom });
    return this.atoms.length - 1;
  }

  /** Bonds two atoms, using up one hydrogen per bond order on each. */
  connect(a: number, b: number, order = 1): void {
    const atomA = this.atoms[a];
    const atomB = this.atoms[b];
    if (atomA === undefined || atomB === undefined) throw new Error(`no atom ${a} or ${b}`);
    if (atomA.h < order || atomB.h < order) throw new Error(`atoms ${a} and ${b} have no free valence for a bond of order ${order}`);
    atomA.h -= order;
    atomB.h -= order;
    this.bonds.push({ a, b, order });
  }

  get heavyAtomCount(): number {
    return this.atoms.length;
  }

  /** A valid (not canonical) Kekulé SMILES of the whole graph; RDKit canonicalises it afterwards. */
  toSmiles(): string {
    if (this.atoms.length === 0) return '';
    const neighbours: { to: number; bond: GraphBond }[][] = this.atoms.map(() => []);
    for (const bond of this.bonds) {
      neighbours[bond.a]?.push({ to: bond.b, bond });
      neighbours[bond.b]?.push({ to: bond.a, bond });
    }

    // Pass 1: depth-first spanning tree; every non-tree bond becomes a ring closure.
    const order: number[] = new Array<number>(this.atoms.length).fill(-1);
    const treeBonds = new Set<GraphBond>();
    let counter = 0;
    const visit = (atom: number): void => {
      order[atom] = counter++;
      for (const { to, bond } of neighbours[atom] ?? []) {
        if (order[to] === -1) {
          treeBonds.add(bond);
          visit(to);
        }
      }
    };
    visit(0);
    if (order.includes(-1)) throw new Error('molecule graph is not connected');

    // Pass 2: write atoms in the same order, opening ring-closure digits at the earlier atom.
    const openDigits = new Map<GraphBond, number>();
    const usedDigits = new Set<number>();
    const written = new Set<number>();
    const digitText = (d: number): string => (d < 10 ? String(d) : `%${d}`);
    const bondText = (bond: GraphBond): string => (bond.order === 2 ? '=' : bond.order === 3 ? '#' : '');

    const write = (atom: number): string => {
      written.add(atom);
      let text = this.atomText(atom);
      for (const { to, bond } of neighbours[atom] ?? []) {
        if (treeBonds.has(bond)) continue;
        const open = openDigits.get(bond);
        if (open !== undefined) {
          text += bondText(bond) + digitText(open);
          openDigits.delete(bond);
          usedDigits.delete(open);
        } else if (!written.has(to)) {
          let digit = 1;
          while (usedDigits.has(digit)) digit++;
          usedDigits.add(digit);
          openDigits.set(bond, digit);
          text += bondText(bond) + digitText(digit);
        }
      }
      const children = (neighbours[atom] ?? []).filter(({ to, bond }) => treeBonds.has(bond) && !written.has(to));
      children.forEach(({ to, bond }, i) => {
        const branch = bondText(bond) + write(to);
        text += i < children.length - 1 ? `(${branch})` : branch;
      });
      return text;
    };
    return write(0);
  }

  private atomText(index: number): string {
    const atom = this.atoms[index] as GraphAtom;
    const symbol = elementSymbol(atom.z);
    if (atom.chg === 0 && atom.z !== 0 && atom.chirality === undefined) return symbol;
    const hydrogens = atom.h === 0 ? '' : atom.h === 1 ? 'H' : `H${atom.h}`;
    const charge = atom.chg === 0 ? '' : atom.chg > 0 ? '+'.repeat(atom.chg) : '-'.repeat(-atom.chg);
    return `[${symbol}${atom.chirality ?? ''}${hydrogens}${charge}]`;
  }
}
