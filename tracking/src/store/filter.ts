/**
 * MLflow's search filter grammar (docs: "Search Runs", search_utils.py): clauses joined by AND,
 * each `<entity>.<key> <comparator> <value>`; keys may be quoted with "" or ``; string values with '' or "".
 * Unprefixed identifiers are attributes, as in MLflow. OR is not supported (MLflow does not support it either).
 */
import { invalidParam } from '../server/errors.js';

export type EntityType = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';
export type Comparator = '=' | '!=' | '>' | '>=' | '<' | '<=' | 'LIKE' | 'ILIKE' | 'IN' | 'NOT IN' | 'IS NULL' | 'IS NOT NULL';

export type FilterValue = { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'list'; value: string[] } | { kind: 'none' };

export interface FilterClause {
  entity: EntityType;
  key: string;
  comparator: Comparator;
  value: FilterValue;
}

const ENTITY_ALIASES: Record<string, EntityType> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};

type Token =
  | { t: 'ident'; v: string }
  | { t: 'quotedIdent'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'op'; v: string }
  | { t: 'punct'; v: '(' | ')' | ',' | '.' };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= input.length) break;
        // A doubled quote ('it''s') or a backslash escapes the quote character inside a string.
        if (input[j] === c) {
          if (input[j + 1] !== c) break;
          text += c;
          j += 2;
          continue;
        }
        if (input[j] === '\\' && j + 1 < input.length) {
          text += input[j + 1];
          j += 2;
          continue;
        }
        text += input[j];
        j++;
      }
      if (j >= input.length) throw invalidParam(`Invalid filter: unterminated quote ${c} starting at position ${i} in '${input}'.`);
      // A double-quoted token right after a "." is an identifier; elsewhere a string value (as in MLflow).
      const prev = tokens[tokens.length - 1];
      const isKey = c === '`' || (c === '"' && prev?.t === 'punct' && prev.v === '.');
      tokens.push(isKey ? { t: 'quotedIdent', v: text } : { t: 'string', v: text });
      i = j + 1;
      continue;
    }
    const two = input.slice(i, i + 2);
    if (two === '!=' || two === '>=' || two === '<=' || two === '<>') {
      tokens.push({ t: 'op', v: two === '<>' ? '!=' : two });
      i += 2;
      continue;
    }
    if (c === '=' || c === '>' || c === '<') {
      tokens.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '.') {
      // A dot followed by a digit is part of a number such as .5
      if (c === '.' && /[0-9]/.test(input[i + 1] ?? '') && (tokens.length === 0 || tokens[tokens.length - 1]!.t === 'op')) {
        // fall through to number parsing below
      } else {
        tokens.push({ t: 'punct', v: c });
        i++;
        continue;
      }
    }
    const num = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(input.slice(i));
    const prev = tokens[tokens.length - 1];
    const afterComparatorWord = prev?.t === 'ident' && ['LIKE', 'ILIKE'].includes(prev.v.toUpperCase());
    if (num && (prev === undefined || prev.t === 'op' || afterComparatorWord || (prev.t === 'punct' && (prev.v === '(' || prev.v === ',')))) {
      tokens.push({ t: 'number', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z0-9_\-/:]+/.exec(input.slice(i));
    if (word) {
      tokens.push({ t: 'ident', v: word[0] });
      i += word[0].length;
      continue;
    }
    throw invalidParam(`Invalid filter: unexpected character '${c}' at position ${i} in '${input}'.`);
  }
  return tokens;
}

function isWord(tok: Token | undefined, word: string): boolean {
  return tok?.t === 'ident' && tok.v.toUpperCase() === word;
}

/** Parses a filter string into AND-ed clauses. An empty or blank filter gives no clauses. */
export function parseFilter(filter: string | undefined): FilterClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  const tokens = tokenize(filter);
  const clauses: FilterClause[] = [];
  let pos = 0;
  const fail = (what: string): never => {
    throw invalidParam(`Invalid filter '${filter}': ${what}. Expected clauses like "metrics.rmse < 1 and params.model = 'cnn'" joined by AND.`);
  };
  while (pos < tokens.length) {
    // identifier: [entity "."] key, where key may be dotted (metrics.val.loss) or quoted
    const first = tokens[pos];
    let entity: EntityType = 'attribute';
    let key: string;
    if (first?.t === 'quotedIdent' || first?.t === 'string') {
      key = first.v;
      pos++;
    } else if (first?.t === 'ident') {
      const next = tokens[pos + 1];
      const alias = ENTITY_ALIASES[first.v.toLowerCase()];
      if (next?.t === 'punct' && next.v === '.') {
        if (!alias) fail(`unknown entity type '${first.v}' (use metrics., params., tags., attributes. or datasets.)`);
        entity = alias!;
        pos += 2;
        const keyTok = tokens[pos];
        if (keyTok?.t !== 'ident' && keyTok?.t !== 'quotedIdent') fail(`missing key after '${first.v}.'`);
        key = (keyTok as { v: string }).v;
        pos++;
        // Unquoted keys may contain dots: metrics.val.loss
        while (keyTok!.t === 'ident' && tokens[pos]?.t === 'punct' && (tokens[pos] as { v: string }).v === '.' && tokens[pos + 1]?.t === 'ident') {
          key += '.' + (tokens[pos + 1] as { v: string }).v;
          pos += 2;
        }
      } else {
        key = first.v;
        pos++;
      }
    } else {
      return fail(`expected an identifier at clause ${clauses.length + 1}`);
    }
    // comparator
    const opTok = tokens[pos];
    let comparator: Comparator;
    if (opTok?.t === 'op') {
      comparator = opTok.v as Comparator;
      pos++;
    } else if (isWord(opTok, 'LIKE') || isWord(opTok, 'ILIKE') || isWord(opTok, 'IN')) {
      comparator = (opTok as { v: string }).v.toUpperCase() as Comparator;
      pos++;
    } else if (isWord(opTok, 'NOT') && isWord(tokens[pos + 1], 'IN')) {
      comparator = 'NOT IN';
      pos += 2;
    } else if (isWord(opTok, 'IS') && isWord(tokens[pos + 1], 'NULL')) {
      comparator = 'IS NULL';
      pos += 2;
    } else if (isWord(opTok, 'IS') && isWord(tokens[pos + 1], 'NOT') && isWord(tokens[pos + 2], 'NULL')) {
      comparator = 'IS NOT NULL';
      pos += 3;
    } else {
      return fail(`expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL) after '${key}'`);
    }
    // value
    let value: FilterValue;
    if (comparator === 'IS NULL' || comparator === 'IS NOT NULL') {
      value = { kind: 'none' };
    } else if (comparator === 'IN' || comparator === 'NOT IN') {
      const open = tokens[pos];
      if (open?.t !== 'punct' || open.v !== '(') fail(`${comparator} needs a parenthesised list such as ('a', 'b')`);
      pos++;
      const items: string[] = [];
      for (;;) {
        const item = tokens[pos];
        if (item?.t !== 'string') fail(`${comparator} list items must be quoted strings`);
        items.push((item as { v: string }).v);
        pos++;
        const sep = tokens[pos];
        pos++;
        if (sep?.t === 'punct' && sep.v === ')') break;
        if (sep?.t !== 'punct' || sep.v !== ',') fail(`${comparator} list must be separated by commas and closed with ')'`);
      }
      value = { kind: 'list', value: items };
    } else {
      const v = tokens[pos];
      if (v?.t === 'string') value = { kind: 'string', value: v.v };
      else if (v?.t === 'number') value = { kind: 'number', value: v.v };
      else return fail(`expected a value after '${key} ${comparator}'`);
      pos++;
    }
    clauses.push({ entity, key, comparator, value });
    if (pos >= tokens.length) break;
    if (isWord(tokens[pos], 'AND')) {
      pos++;
      if (pos >= tokens.length) fail('dangling AND at the end');
      continue;
    }
    if (isWord(tokens[pos], 'OR')) fail('OR is not supported (MLflow supports only AND)');
    fail(`expected AND after clause ${clauses.length}`);
  }
  return clauses;
}

export interface OrderBy {
  entity: EntityType;
  key: string;
  ascending: boolean;
}

/** Parses one `order_by` entry such as `metrics.rmse DESC` or `attributes.start_time`. */
export function parseOrderBy(expr: string): OrderBy {
  const m = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(expr);
  if (!m) throw invalidParam(`Invalid order_by clause '${expr}'.`);
  const clauses = parseFilter(`${m[1]} IS NULL`);
  const first = clauses[0];
  if (clauses.length !== 1 || !first) throw invalidParam(`Invalid order_by clause '${expr}'. Expected '<entity>.<key> [ASC|DESC]'.`);
  return { entity: first.entity, key: first.key, ascending: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
}

/** MLflow's LIKE patterns (% and _) as a JS RegExp, for filtering rows already in memory. */
export function likeToRegExp(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}
