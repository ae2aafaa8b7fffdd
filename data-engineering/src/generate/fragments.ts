/**
 * The building blocks of generated molecules, written as SMILES. Ring systems attach wherever an atom
 * still carries a hydrogen; linkers and substituents mark their attachment points with `*`.
 * Weights bias the picks towards what is common in medicinal chemistry (benzene, piperidine, amides).
 * Ring counts are not written here: they are measured with RDKit when the catalogue is loaded, so they
 * always agree with the `num_rings` label (RDKit counts a bridged system such as adamantane as 4).
 */
export interface FragmentSpec {
  readonly name: string;
  readonly smiles: string;
  readonly weight: number;
}

export interface SubstituentSpec extends FragmentSpec {
  /** Which host atoms it may be attached to ('C' = carbon only, 'CN' = carbon or nitrogen). */
  readonly hosts: 'C' | 'CN';
}

export const RING_SYSTEMS: readonly FragmentSpec[] = [
  // aromatic monocycles
  { name: 'benzene', smiles: 'c1ccccc1', weight: 10 },
  { name: 'pyridine', smiles: 'c1ccncc1', weight: 5 },
  { name: 'pyrimidine', smiles: 'c1cncnc1', weight: 3 },
  { name: 'pyrazine', smiles: 'c1cnccn1', weight: 1.5 },
  { name: 'pyridazine', smiles: 'c1ccnnc1', weight: 1 },
  { name: 'thiophene', smiles: 'c1ccsc1', weight: 2.5 },
  { name: 'furan', smiles: 'c1ccoc1', weight: 1.5 },
  { name: 'pyrrole', smiles: 'c1cc[nH]c1', weight: 1.5 },
  { name: 'imidazole', smiles: 'c1c[nH]cn1', weight: 2 },
  { name: 'pyrazole', smiles: 'c1cc[nH]n1', weight: 2 },
  { name: 'oxazole', smiles: 'c1cocn1', weight: 1 },
  { name: 'thiazole', smiles: 'c1cscn1', weight: 2 },
  { name: 'isoxazole', smiles: 'c1cnoc1', weight: 1 },
  { name: '1,2,4-triazole', smiles: 'c1nc[nH]n1', weight: 1 },
  { name: 'tetrazole', smiles: 'c1nnn[nH]1', weight: 0.5 },
  { name: '1,3,4-oxadiazole', smiles: 'c1nnco1', weight: 0.8 },
  { name: '2-pyridone', smiles: 'O=c1cccc[nH]1', weight: 0.8 },
  // saturated monocycles
  { name: 'cyclopropane', smiles: 'C1CC1', weight: 2.5 },
  { name: 'cyclobutane', smiles: 'C1CCC1', weight: 1 },
  { name: 'cyclopentane', smiles: 'C1CCCC1', weight: 1.5 },
  { name: 'cyclohexane', smiles: 'C1CCCCC1', weight: 3 },
  { name: 'cycloheptane', smiles: 'C1CCCCCC1', weight: 0.4 },
  { name: 'azetidine', smiles: 'C1CNC1', weight: 0.8 },
  { name: 'oxetane', smiles: 'C1COC1', weight: 0.5 },
  { name: 'pyrrolidine', smiles: 'C1CCNC1', weight: 3 },
  { name: 'piperidine', smiles: 'C1CCNCC1', weight: 6 },
  { name: 'piperazine', smiles: 'C1CNCCN1', weight: 5 },
  { name: 'morpholine', smiles: 'C1COCCN1', weight: 4 },
  { name: 'thiomorpholine', smiles: 'C1CSCCN1', weight: 0.4 },
  { name: 'tetrahydrofuran', smiles: 'C1CCOC1', weight: 1 },
  { name: 'tetrahydropyran', smiles: 'C1CCOCC1', weight: 1.5 },
  { name: 'pyrrolidinone', smiles: 'O=C1CCCN1', weight: 1 },
  { name: 'piperidinone', smiles: 'O=C1CCCCN1', weight: 0.6 },
  { name: 'cyclohexene', smiles: 'C1=CCCCC1', weight: 0.5 },
  // fused bicycles
  { name: 'naphthalene', smiles: 'c1ccc2ccccc2c1', weight: 3 },
  { name: 'indole', smiles: 'c1ccc2[nH]ccc2c1', weight: 3 },
  { name: 'quinoline', smiles: 'c1ccc2ncccc2c1', weight: 3 },
  { name: 'isoquinoline', smiles: 'c1ccc2cnccc2c1', weight: 1.5 },
  { name: 'quinazoline', smiles: 'c1ccc2ncncc2c1', weight: 2 },
  { name: 'quinoxaline', smiles: 'c1ccc2nccnc2c1', weight: 1 },
  { name: 'benzimidazole', smiles: 'c1ccc2[nH]cnc2c1', weight: 2.5 },
  { name: 'benzoxazole', smiles: 'c1ccc2ocnc2c1', weight: 1 },
  { name: 'benzothiazole', smiles: 'c1ccc2scnc2c1', weight: 1.2 },
  { name: 'benzofuran', smiles: 'c1ccc2occc2c1', weight: 1.2 },
  { name: 'benzothiophene', smiles: 'c1ccc2sccc2c1', weight: 1 },
  { name: 'indazole', smiles: 'c1ccc2[nH]ncc2c1', weight: 1.5 },
  { name: 'purine', smiles: 'c1ncc2[nH]cnc2n1', weight: 1 },
  { name: '7-azaindole', smiles: 'c1cnc2[nH]ccc2c1', weight: 1 },
  { name: 'pyrrolo[2,3-d]pyrimidine', smiles: 'c1ncc2cc[nH]c2n1', weight: 1 },
  { name: 'imidazo[1,2-a]pyridine', smiles: 'c1ccn2ccnc2c1', weight: 1.2 },
  { name: 'indane', smiles: 'C1Cc2ccccc2C1', weight: 1 },
  { name: 'tetralin', smiles: 'C1CCc2ccccc2C1', weight: 0.8 },
  { name: 'tetrahydroisoquinoline', smiles: 'C1Cc2ccccc2CN1', weight: 1.5 },
  { name: 'indoline', smiles: 'C1Cc2ccccc2N1', weight: 1 },
  { name: '1,3-benzodioxole', smiles: 'c1ccc2OCOc2c1', weight: 1.2 },
  { name: 'chromane', smiles: 'c1ccc2OCCCc2c1', weight: 0.8 },
  { name: '2,3-dihydro-1,4-benzodioxine', smiles: 'c1ccc2OCCOc2c1', weight: 0.8 },
  { name: 'quinolin-2-one', smiles: 'O=c1ccc2ccccc2[nH]1', weight: 0.8 },
  { name: 'decalin', smiles: 'C1CCC2CCCCC2C1', weight: 0.3 },
  // spiro and bridged bicycles
  { name: '2-azaspiro[3.3]heptane', smiles: 'C1CC2(C1)CNC2', weight: 0.5 },
  { name: '1-oxa-8-azaspiro[4.5]decane', smiles: 'C1CC2(CCN1)CCCO2', weight: 0.3 },
  { name: 'spiro[4.5]decane', smiles: 'C1CCC2(CC1)CCCC2', weight: 0.3 },
  { name: 'norbornane', smiles: 'C1CC2CCC1C2', weight: 0.4 },
  { name: 'tropane', smiles: 'C1CC2CCC(C1)N2', weight: 0.5 },
  { name: '3-azabicyclo[3.1.0]hexane', smiles: 'C1C2CC2CN1', weight: 0.4 },
  { name: 'quinuclidine', smiles: 'C1CN2CCC1CC2', weight: 0.4 },
  { name: 'adamantane', smiles: 'C1C2CC3CC1CC(C2)C3', weight: 0.5 },
  // tri- and tetracycles
  { name: 'carbazole', smiles: 'c1ccc2c(c1)[nH]c1ccccc12', weight: 1 },
  { name: 'dibenzofuran', smiles: 'c1ccc2c(c1)oc1ccccc12', weight: 0.6 },
  { name: 'anthracene', smiles: 'c1ccc2cc3ccccc3cc2c1', weight: 0.4 },
  { name: 'phenanthrene', smiles: 'c1ccc2c(c1)ccc1ccccc12', weight: 0.6 },
  { name: 'acridine', smiles: 'c1ccc2nc3ccccc3cc2c1', weight: 0.5 },
  { name: 'fluorene', smiles: 'c1ccc2c(c1)Cc1ccccc12', weight: 0.5 },
  { name: 'phenothiazine', smiles: 'c1ccc2c(c1)Nc1ccccc1S2', weight: 0.6 },
  { name: 'xanthene', smiles: 'c1ccc2c(c1)Cc1ccccc1O2', weight: 0.4 },
  { name: 'beta-carboline', smiles: 'c1ccc2c(c1)[nH]c1cnccc12', weight: 0.6 },
  { name: 'tetrahydrocarbazole', smiles: 'C1CCc2c(C1)[nH]c1ccccc21', weight: 0.6 },
  { name: 'dibenzazepine', smiles: 'c1ccc2c(c1)CCc1ccccc1N2', weight: 0.4 },
  { name: 'pyrene', smiles: 'c1cc2ccc3cccc4ccc(c1)c2c34', weight: 0.15 },
  { name: 'steroid core', smiles: 'C1CCC2C(C1)CCC1C2CCC2CCCC12', weight: 0.5 },
];

/** Acyclic pieces: the skeletons of ring-free molecules, also used as side chains. */
export const ACYCLIC_BLOCKS: readonly FragmentSpec[] = [
  { name: 'hexyl', smiles: 'CCCCCC', weight: 1 },
  { name: 'isobutyl', smiles: 'CC(C)C', weight: 1 },
  { name: 'triethylamine', smiles: 'CCN(CC)CC', weight: 1 },
  { name: 'glycerol', smiles: 'OCC(O)CO', weight: 0.6 },
  { name: 'lysine', smiles: 'NCCCCC(N)C(=O)O', weight: 0.8 },
  { name: 'leucine', smiles: 'CC(C)CC(N)C(=O)O', weight: 0.8 },
  { name: 'nonanoic acid', smiles: 'CCCCCCCCC(=O)O', weight: 0.6 },
  { name: 'Boc-amine', smiles: 'CC(C)(C)OC(=O)NC', weight: 0.8 },
  { name: 'ethyl acetate', smiles: 'CCOC(=O)C', weight: 0.8 },
  { name: 'allyl ether', smiles: 'C=CCOCC', weight: 0.5 },
  { name: 'diethyl malonate', smiles: 'CCOC(=O)CC(=O)OCC', weight: 0.5 },
  { name: 'urea', smiles: 'CNC(=O)NC', weight: 0.6 },
  { name: 'guanidine', smiles: 'CCCNC(=N)N', weight: 0.5 },
  { name: 'PEG', smiles: 'COCCOCCOC', weight: 0.6 },
  { name: 'thioether', smiles: 'CSCCC', weight: 0.5 },
  { name: 'enone', smiles: 'CC=CC(=O)C', weight: 0.5 },
  { name: 'propargyl amine', smiles: 'C#CCN', weight: 0.4 },
  { name: 'sulfonamide', smiles: 'CS(=O)(=O)NCC', weight: 0.5 },
  { name: 'hydroxamic acid', smiles: 'CCCC(=O)NO', weight: 0.3 },
  { name: 'phosphonate', smiles: 'CCOP(=O)(OCC)C', weight: 0.3 },
  { name: 'octadienal', smiles: 'CC(C)=CCCC(C)=CC=O', weight: 0.4 },
];

/** Linkers between two ring systems: both `*` are attachment points. `**` is a direct bond. */
export const LINKERS: readonly FragmentSpec[] = [
  { name: 'bond', smiles: '**', weight: 8 },
  { name: 'methylene', smiles: '*C*', weight: 4 },
  { name: 'ethylene', smiles: '*CC*', weight: 1.5 },
  { name: 'propylene', smiles: '*CCC*', weight: 0.6 },
  { name: 'ether', smiles: '*O*', weight: 2 },
  { name: 'amine', smiles: '*N*', weight: 2 },
  { name: 'N-methyl amine', smiles: '*N(C)*', weight: 0.8 },
  { name: 'amide', smiles: '*C(=O)N*', weight: 5 },
  { name: 'N-methyl amide', smiles: '*C(=O)N(C)*', weight: 1 },
  { name: 'carbonyl', smiles: '*C(=O)*', weight: 2 },
  { name: 'sulfonamide', smiles: '*S(=O)(=O)N*', weight: 1.5 },
  { name: 'sulfone', smiles: '*S(=O)(=O)*', weight: 0.6 },
  { name: 'thioether', smiles: '*S*', weight: 0.6 },
  { name: 'urea', smiles: '*NC(=O)N*', weight: 1.2 },
  { name: 'carbamate', smiles: '*OC(=O)N*', weight: 0.6 },
  { name: 'ester', smiles: '*C(=O)O*', weight: 0.6 },
  { name: 'oxymethylene', smiles: '*OC*', weight: 1.5 },
  { name: 'aminomethylene', smiles: '*NC*', weight: 1.5 },
  { name: 'acetamide', smiles: '*CC(=O)N*', weight: 1 },
  { name: 'vinylene', smiles: '*C=C*', weight: 0.4 },
  { name: 'ethynylene', smiles: '*C#C*', weight: 0.3 },
  { name: 'hydroxyethylene', smiles: '*CC(O)*', weight: 0.4 },
  { name: 'aminoethoxy', smiles: '*OCCN*', weight: 0.5 },
];

export const SUBSTITUENTS: readonly SubstituentSpec[] = [
  { name: 'fluoro', smiles: '*F', weight: 5, hosts: 'C' },
  { name: 'chloro', smiles: '*Cl', weight: 4, hosts: 'C' },
  { name: 'bromo', smiles: '*Br', weight: 1, hosts: 'C' },
  { name: 'methyl', smiles: '*C', weight: 6, hosts: 'CN' },
  { name: 'ethyl', smiles: '*CC', weight: 1.5, hosts: 'CN' },
  { name: 'isopropyl', smiles: '*C(C)C', weight: 1, hosts: 'CN' },
  { name: 'tert-butyl', smiles: '*C(C)(C)C', weight: 0.8, hosts: 'C' },
  { name: 'methoxy', smiles: '*OC', weight: 4, hosts: 'C' },
  { name: 'hydroxy', smiles: '*O', weight: 2.5, hosts: 'C' },
  { name: 'amino', smiles: '*N', weight: 2, hosts: 'C' },
  { name: 'dimethylamino', smiles: '*N(C)C', weight: 1, hosts: 'C' },
  { name: 'trifluoromethyl', smiles: '*C(F)(F)F', weight: 2.5, hosts: 'C' },
  { name: 'trifluoromethoxy', smiles: '*OC(F)(F)F', weight: 0.6, hosts: 'C' },
  { name: 'nitrile', smiles: '*C#N', weight: 1.5, hosts: 'C' },
  { name: 'nitro', smiles: '*[N+](=O)[O-]', weight: 0.8, hosts: 'C' },
  { name: 'carboxylic acid', smiles: '*C(=O)O', weight: 1.5, hosts: 'C' },
  { name: 'methyl ester', smiles: '*C(=O)OC', weight: 0.8, hosts: 'C' },
  { name: 'carboxamide', smiles: '*C(=O)N', weight: 1.2, hosts: 'C' },
  { name: 'acetyl', smiles: '*C(C)=O', weight: 1.2, hosts: 'CN' },
  { name: 'acetamido', smiles: '*NC(C)=O', weight: 0.8, hosts: 'C' },
  { name: 'methylsulfonyl', smiles: '*S(C)(=O)=O', weight: 0.8, hosts: 'CN' },
  { name: 'sulfonamide', smiles: '*S(N)(=O)=O', weight: 0.6, hosts: 'C' },
  { name: 'hydroxymethyl', smiles: '*CO', weight: 0.8, hosts: 'C' },
  { name: 'methylthio', smiles: '*SC', weight: 0.4, hosts: 'C' },
  { name: 'Boc', smiles: '*C(=O)OC(C)(C)C', weight: 0.5, hosts: 'CN' },
];

/**
 * Counter-ions and solvates of salt forms, which ChEMBL records as extra fragments of the SMILES and
 * draws beside the molecule. None has a ring, so the ring count stays the parent's.
 */
export const SALT_FRAGMENTS: readonly { name: string; smiles: string; weight: number }[] = [
  { name: 'hydrochloride', smiles: 'Cl', weight: 6 },
  { name: 'hydrobromide', smiles: 'Br', weight: 1 },
  { name: 'trifluoroacetate', smiles: 'O=C(O)C(F)(F)F', weight: 2 },
  { name: 'maleate', smiles: 'O=C(O)/C=C\\C(=O)O', weight: 1 },
  { name: 'fumarate', smiles: 'O=C(O)/C=C/C(=O)O', weight: 1 },
  { name: 'mesylate', smiles: 'CS(=O)(=O)O', weight: 1 },
  { name: 'sulfate', smiles: 'O=S(=O)(O)O', weight: 0.6 },
  { name: 'hydrate', smiles: 'O', weight: 0.8 },
];

/** Targets and assay types for the made-up assay results (the upstream format carries them). */
export const ASSAY_TARGETS: readonly string[] = [
  'EGFR', 'CDK2', 'hERG', 'DRD2', '5-HT2A', 'PTGS2', 'BACE1', 'JAK2', 'PDE4B', 'CYP3A4', 'ABL1', 'ADRB2',
  'HDAC1', 'MAPK14', 'ESR1', 'AChE', 'CA2', 'PIK3CA', 'BRD4', 'KDR',
];
export const ASSAY_TYPES: readonly string[] = ['IC50', 'Ki', 'EC50', 'Kd'];
