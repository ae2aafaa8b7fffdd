import type { Catalogue, Fragment, Substituent } from './catalogue.js';
import { MoleculeGraph, type GraphBond } from './molecule-graph.js';
import type { Random } from './random.js';

/** Larger molecules are redrawn: beyond this RDKit's 300×300 depictions become unreadable. */
const MAX_HEAVY_ATOMS = 64;
const CARBON = 6;
const NITROGEN = 7;

/**
 * Builds one drug-like molecule with exactly `targetRings` rings (as RDKit counts them when ring
 * systems are joined by acyclic linkers): ring systems are chosen so their ring counts add up to the
 * target, joined by linkers into a tree, optionally given an acyclic side chain, then decorated.
 * Returns undefined when a draw goes wrong (too big, nowhere to attach); the caller draws again.
 */
export function buildMolecule(rng: Random, catalogue: Catalogue, targetRings: number, stereo?: StereoOptions): string | undefined {
  const graph = new MoleculeGraph();
  const place = (fragment: Fragment): number[] => {
    const indices = fragment.atoms.map((atom) => graph.addAtom({ ...atom }));
    for (const bond of fragment.bonds) {
      const a = indices[bond.a] as number;
      const b = indices[bond.b] as number;
      // Fragment hydrogens already account for internal bonds, so add the bond without using valence.
      graph.bonds.push({ a, b, order: bond.order });
    }
    return indices;
  };

  const cores = targetRings === 0 ? pickAcyclicCores(rng, catalogue) : pickRingSystems(rng, catalogue, targetRings);
  let lastPlaced: number[] = [];
  for (const core of cores) {
    if (graph.atoms.length === 0) {
      lastPlaced = place(core);
      continue;
    }
    const joined = join(rng, graph, catalogue, core, lastPlaced, place);
    if (joined === undefined) return undefined;
    lastPlaced = joined;
  }

  // An acyclic side chain (amino acid, ester, amine…) on some ring-containing molecules.
  if (targetRings > 0 && rng.chance(0.2)) {
    if (join(rng, graph, catalogue, rng.weighted(catalogue.acyclicBlocks, (f) => f.spec.weight), lastPlaced, place) === undefined) {
      return undefined;
    }
  }

  const substituentCount = rng.weighted([0, 1, 2, 3, 4], (n) => [1.2, 3, 3, 2, 1][n] ?? 0);
  for (let i = 0; i < substituentCount; i++) decorate(rng, graph, catalogue.substituents);

  if (graph.heavyAtomCount > MAX_HEAVY_ATOMS) return undefined;
  if (stereo && stereo.rng.chance(stereo.molecules)) assignStereo(stereo.rng, graph, stereo.centres);
  return graph.toSmiles();
}

/**
 * Stereochemistry as ChEMBL records it for many compounds, so depictions have wedge and hash bonds.
 * Its own random stream, so that adding it leaves every structure, layout and record as it was.
 */
export interface StereoOptions {
  rng: Random;
  /** Share of molecules given stereo tags. */
  molecules: number;
  /** Share of the candidate centres of such a molecule that are tagged. */
  centres: number;
}

/**
 * Tags candidate tetrahedral carbons (four single bonds, at most one of them to hydrogen) with a
 * random `@`/`@@`; RDKit drops the tags of those that are not stereocentres.
 */
export function assignStereo(rng: Random, graph: MoleculeGraph, share: number): void {
  const degree = graph.atoms.map(() => 0);
  const unsaturated = graph.atoms.map(() => false);
  for (const bond of graph.bonds) {
    degree[bond.a]!++;
    degree[bond.b]!++;
    if (bond.order !== 1) unsaturated[bond.a] = unsaturated[bond.b] = true;
  }
  graph.atoms.forEach((atom, i) => {
    const candidate = atom.z === CARBON && atom.chg === 0 && !unsaturated[i] && atom.h <= 1 && (degree[i] as number) + atom.h === 4;
    if (candidate && rng.chance(share)) atom.chirality = rng.chance(0.5) ? '@' : '@@';
  });
}

/** Ring systems whose ring counts add up to `target`, favouring fused systems for large targets. */
function pickRingSystems(rng: Random, catalogue: Catalogue, target: number): Fragment[] {
  const picked: Fragment[] = [];
  let remaining = target;
  while (remaining > 0) {
    const fits = catalogue.ringSystems.filter((f) => f.ringCount <= remaining);
    // Past three systems, or with many rings to go, prefer larger systems so molecules stay drug-sized.
    const bias = picked.length >= 3 || remaining >= 4 ? 2.5 : remaining >= 2 ? 1.2 : 1;
    const system = rng.weighted(fits, (f) => f.spec.weight * Math.pow(f.ringCount, bias));
    picked.push(system);
    remaining -= system.ringCount;
  }
  return picked;
}

function pickAcyclicCores(rng: Random, catalogue: Catalogue): Fragment[] {
  const count = rng.weighted([1, 2, 3], (n) => [0, 4, 3, 1][n] ?? 0);
  return Array.from({ length: count }, () => rng.weighted(catalogue.acyclicBlocks, (f) => f.spec.weight));
}

/**
 * False when bonding an atom of element `attachingZ` to `host` would make a heteroatom–heteroatom
 * bond or an aminal/acetal-like sp3 carbon (carbon already bonded to N, O or S through single bonds
 * only): both are rare in drugs, so they are avoided.
 */
function reasonableHost(
  structure: { readonly atoms: readonly { z: number }[]; readonly bonds: readonly GraphBond[] },
  host: number,
  attachingZ: number,
): boolean {
  const atom = structure.atoms[host];
  if (atom === undefined) return false;
  if (atom.z !== CARBON) return attachingZ === CARBON;
  if (attachingZ === CARBON) return true;
  let heteroNeighbour = false;
  for (const bond of structure.bonds) {
    if (bond.a !== host && bond.b !== host) continue;
    if (bond.order > 1) return true; // sp2 carbon: 2-aminopyridines and aryl ethers are fine
    const other = structure.atoms[bond.a === host ? bond.b : bond.a];
    if (other !== undefined && other.z !== CARBON) heteroNeighbour = true;
  }
  return !heteroNeighbour;
}

function attachable(graph: MoleculeGraph, candidates: readonly number[], order = 1): number[] {
  return candidates.filter((i) => {
    const atom = graph.atoms[i];
    return atom !== undefined && atom.h >= order && atom.chg === 0 && (atom.z === CARBON || atom.z === NITROGEN);
  });
}

/**
 * Places `fragment` and links it to the molecule: to an atom of the previous system most of the
 * time (chains of rings), elsewhere otherwise (branched). Heteroatom–heteroatom bonds are avoided.
 */
function join(
  rng: Random,
  graph: MoleculeGraph,
  catalogue: Catalogue,
  fragment: Fragment,
  previous: readonly number[],
  place: (fragment: Fragment) => number[],
): number[] | undefined {
  for (let attempt = 0; attempt < 12; attempt++) {
    const everywhere = graph.atoms.map((_, i) => i);
    const nearby = attachable(graph, previous);
    const hosts = nearby.length > 0 && rng.chance(0.65) ? nearby : attachable(graph, everywhere);
    if (hosts.length === 0) return undefined;
    const host = rng.pick(hosts);
    const guestChoices = fragment.atoms
      .map((atom, i) => ({ atom, i }))
      .filter(({ atom }) => atom.h >= 1 && atom.chg === 0 && (atom.z === CARBON || atom.z === NITROGEN));
    if (guestChoices.length === 0) return undefined;
    const guest = rng.pick(guestChoices);
    const linker = rng.weighted(catalogue.linkers, (f) => f.spec.weight);
    const hostZ = graph.atoms[host]?.z ?? CARBON;

    if (linker.attachments.length === 0) {
      if (!reasonableHost(graph, host, guest.atom.z) || !reasonableHost(fragment, guest.i, hostZ)) continue;
      const placed = place(fragment);
      graph.connect(host, placed[guest.i] as number);
      return placed;
    }
    const [endA, endB] = linker.attachments;
    if (endA === undefined || endB === undefined) continue;
    // Orient the linker randomly, then reject N–N, N–O, N–S bonds and aminal carbons at either end.
    const [toHost, toGuest] = rng.chance(0.5) ? [endA, endB] : [endB, endA];
    const linkerZ = (end: { atom: number }): number => linker.atoms[end.atom]?.z ?? CARBON;
    if (!reasonableHost(graph, host, linkerZ(toHost))) continue;
    if (!reasonableHost(fragment, guest.i, linkerZ(toGuest))) continue;
    const linkerAtoms = place(linker);
    const placed = place(fragment);
    // Linker ends carry the valence of their `*` bonds as extra hydrogens for connect() to use.
    (graph.atoms[linkerAtoms[toHost.atom] as number] as { h: number }).h += toHost.order;
    (graph.atoms[linkerAtoms[toGuest.atom] as number] as { h: number }).h += toGuest.order;
    graph.connect(host, linkerAtoms[toHost.atom] as number, toHost.order);
    graph.connect(linkerAtoms[toGuest.atom] as number, placed[guest.i] as number, toGuest.order);
    return placed;
  }
  return undefined;
}

function decorate(rng: Random, graph: MoleculeGraph, substituents: readonly Substituent[]): void {
  const substituent = rng.weighted(substituents, (s) => s.spec.weight);
  const end = substituent.attachments[0];
  if (end === undefined) return;
  const hosts = attachable(graph, graph.atoms.map((_, i) => i), end.order).filter((i) => {
    const z = graph.atoms[i]?.z;
    return substituent.hosts === 'CN' || z === CARBON;
  });
  if (hosts.length === 0) return;
  const host = rng.pick(hosts);
  if (!reasonableHost(graph, host, substituent.atoms[end.atom]?.z ?? CARBON)) return;
  const offset = graph.atoms.length;
  substituent.atoms.forEach((atom) => graph.addAtom({ ...atom }));
  for (const bond of substituent.bonds) graph.bonds.push({ a: offset + bond.a, b: offset + bond.b, order: bond.order });
  const attachAtom = graph.atoms[offset + end.atom] as { h: number };
  attachAtom.h += end.order;
  graph.connect(host, offset + end.atom, end.order);
}
