/**
 * Papermill-style parameters for TypeScript notebooks.
 *
 * Convention: the cell tagged `parameters` declares each parameter with `let` (and a type when the
 * initialiser's type is too narrow). The runner inserts a cell tagged `injected-parameters` right after
 * it that ASSIGNS the new values (`epochs = 3;`). Assigning keeps the declared type, so tslab
 * type-checks each value against it (a wrong type fails that cell, naming the parameter) and there is no
 * redeclaration; a `const` parameter cannot be overridden and is reported as such.
 */
import { createRequire } from 'node:module';
import type TS from 'typescript';
import { type Cell, type CodeCell, type Notebook, NotebookInputError, hasTag, newCellId, sourceText } from './notebook-format.js';

export const PARAMETERS_TAG = 'parameters';
export const INJECTED_PARAMETERS_TAG = 'injected-parameters';

export type ParameterValue = string | number | boolean | null | ParameterValue[] | { [key: string]: ParameterValue };

/** `name=value` from the command line; the value is JSON when it parses as JSON, else a plain string. */
export function parseParameterArg(arg: string): [string, ParameterValue] {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new NotebookInputError(`parameter "${arg}" is not name=value (example: -p epochs=3)`);
  const name = arg.slice(0, eq).trim();
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new NotebookInputError(`parameter name "${name}" is not a TypeScript identifier`);
  }
  const raw = arg.slice(eq + 1);
  try {
    return [name, JSON.parse(raw) as ParameterValue];
  } catch {
    return [name, raw];
  }
}

let typescriptModule: typeof TS | undefined;
/** Loaded only when parameters are given: loading the compiler costs ~0.3 s of CPU. */
function typescript(): typeof TS {
  typescriptModule ??= createRequire(__filename)('typescript') as typeof TS;
  return typescriptModule;
}

export interface DeclaredParameter { name: string; kind: 'let' | 'const' | 'var' }

/** The top-level variables the parameters cell declares, found with the TypeScript parser. */
export function declaredParameters(source: string): DeclaredParameter[] {
  const ts = typescript();
  const file = ts.createSourceFile('parameters.ts', source, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const found: DeclaredParameter[] = [];
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const flags = statement.declarationList.flags;
    const kind = flags & ts.NodeFlags.Const ? 'const' : flags & ts.NodeFlags.Let ? 'let' : 'var';
    for (const decl of statement.declarationList.declarations) {
      if (ts.isIdentifier(decl.name)) found.push({ name: decl.name.text, kind });
    }
  }
  return found;
}

/** The TypeScript statements of the injected cell; JSON literals are valid TypeScript expressions. */
export function injectedSource(values: ReadonlyMap<string, ParameterValue>): string {
  const lines = ['// Parameters injected by the notebook runner (npm run notebook:run -- ... -p name=value)'];
  // A block, not bare statements: tslab would print the value of a trailing assignment expression.
  lines.push('{');
  for (const [name, value] of values) lines.push(`  ${name} = ${JSON.stringify(value)};`);
  lines.push('}');
  return lines.join('\n');
}

/**
 * Returns a copy of the notebook with the parameters injected (replacing the injected cell of an earlier
 * run). Throws NotebookInputError for an unknown or const parameter, or parameters without a parameters cell.
 */
export function injectParameters(nb: Notebook, values: ReadonlyMap<string, ParameterValue>): Notebook {
  const cells: Cell[] = nb.cells.filter((cell) => !hasTag(cell, INJECTED_PARAMETERS_TAG));
  if (values.size === 0) return { ...nb, cells };
  const at = cells.findIndex((cell) => cell.cell_type === 'code' && hasTag(cell, PARAMETERS_TAG));
  const names = [...values.keys()].join(', ');
  if (at < 0) {
    throw new NotebookInputError(`parameters given (${names}) but the notebook has no code cell tagged "${PARAMETERS_TAG}"; ` +
      'tag the cell that declares them (View > Cell Toolbar > Tags in Jupyter)');
  }
  const declared = declaredParameters(sourceText(cells[at]!.source));
  const known = new Map(declared.map((d) => [d.name, d]));
  const knownList = declared.map((d) => d.name).join(', ') || '(none)';
  for (const name of values.keys()) {
    const decl = known.get(name);
    if (!decl) throw new NotebookInputError(`unknown parameter "${name}"; the parameters cell declares: ${knownList}`);
    if (decl.kind === 'const') {
      throw new NotebookInputError(`parameter "${name}" is declared with const in the parameters cell; declare it with let so the runner can override it`);
    }
  }
  const injected: CodeCell = {
    cell_type: 'code',
    id: newCellId('injected-parameters'),
    source: injectedSource(values),
    metadata: { tags: [INJECTED_PARAMETERS_TAG] },
    outputs: [],
    execution_count: null,
  };
  cells.splice(at + 1, 0, injected);
  return { ...nb, cells };
}
