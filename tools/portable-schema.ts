// Rewrites the JSON Schemas the SDK lists (zod 4 → JSON Schema) into a form every common client accepts as meant:
// - zod compacts `anyOf: [{type: T}, {type: "null"}]` into `type: [T, "null"]`; clients that map schemas onto a
//   single-`type` dialect (Gemini's OpenAPI subset, Inspector `--strict` warns) reject or misread that, so type
//   arrays are split back into `anyOf` branches with one `type` each;
// - `z.unknown()` values list as `{}` (a schema that says nothing): under `additionalProperties` that becomes `true`,
//   elsewhere an explicit any-JSON-value `anyOf`;
// - Codex drops min/max/length/pattern from input schemas, so each limit is also stated in the description.
// Pure functions on plain JSON: validation semantics are unchanged (each rewrite accepts exactly the same values).

type Json = Record<string, unknown>;

const ANNOTATIONS = new Set(['description', 'title', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly', '$comment', '$schema', '$id']);
const MAP_KEYS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const ARRAY_KEYS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const SINGLE_KEYS = [
  'items',
  'contains',
  'not',
  'propertyNames',
  'if',
  'then',
  'else',
  'additionalProperties',
  'unevaluatedProperties',
  'additionalItems',
  'unevaluatedItems',
];
const BOOLEAN_OK = new Set(['additionalProperties', 'unevaluatedProperties', 'additionalItems', 'unevaluatedItems']);
const ANY_JSON: Json = { anyOf: ['object', 'array', 'string', 'number', 'boolean', 'null'].map((type) => ({ type })) };

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when the node constrains nothing (only annotations, or empty): the object spelling of `true`. */
function saysNothing(node: Json): boolean {
  return Object.keys(node).every((k) => ANNOTATIONS.has(k));
}

/** `{type: [A, B], ...rest}` → `{annotations, anyOf: [{type: A, ...constraints}, {type: B, ...constraints}]}`. */
function splitTypeArray(node: Json): Json {
  const types = node.type as unknown[];
  const annotations: Json = {};
  const constraints: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'type') continue;
    if (ANNOTATIONS.has(k)) annotations[k] = v;
    else constraints[k] = v;
  }
  const branches = types.map((t) => (t === 'null' ? { type: 'null' } : { type: t, ...constraints }));
  if (!('anyOf' in constraints)) return { ...annotations, anyOf: branches };
  // Both a type array and an anyOf: keep both as conjuncts so nothing is lost.
  const { anyOf, ...otherConstraints } = constraints;
  return { ...annotations, allOf: [{ anyOf }, { anyOf: types.map((t) => (t === 'null' ? { type: 'null' } : { type: t, ...otherConstraints })) }] };
}

function rewrite(node: unknown, keyword: string | undefined): unknown {
  if (typeof node === 'boolean') {
    if (keyword !== undefined && BOOLEAN_OK.has(keyword)) return node;
    return node ? { ...ANY_JSON } : { not: {} };
  }
  if (!isObject(node)) return node;
  let out: Json = { ...node };
  for (const key of MAP_KEYS) {
    const map = out[key];
    if (isObject(map)) out[key] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, rewrite(sub, key)]));
  }
  for (const key of ARRAY_KEYS) {
    const arr = out[key];
    if (Array.isArray(arr)) out[key] = arr.map((sub) => rewrite(sub, key));
  }
  for (const key of SINGLE_KEYS) {
    if (!(key in out)) continue;
    const value = out[key];
    out[key] = key === 'items' && Array.isArray(value) ? value.map((sub) => rewrite(sub, key)) : rewrite(value, key);
  }
  if (Array.isArray(out.type)) out = out.type.length === 1 ? { ...out, type: out.type[0] } : splitTypeArray(out);
  if (saysNothing(out) && keyword !== 'not' && keyword !== undefined) {
    if (BOOLEAN_OK.has(keyword) && Object.keys(out).length === 0) return true;
    out = { ...out, ...ANY_JSON };
  }
  return out;
}

/** A schema that accepts exactly the same values, spelled without type arrays or empty schemas. */
export function portableSchema<T>(schema: T): T {
  return rewrite(schema, undefined) as T;
}

const SAFE_MAX = Number.MAX_SAFE_INTEGER;

function numberLimits(node: Json): string[] {
  const parts: string[] = [];
  const isInt = node.type === 'integer';
  const min = node.minimum as number | undefined;
  const max = node.maximum as number | undefined;
  const exMin = node.exclusiveMinimum as number | undefined;
  const exMax = node.exclusiveMaximum as number | undefined;
  const hasMax = max !== undefined && max < SAFE_MAX;
  if (isInt && exMin === 0 && !hasMax && exMax === undefined) return ['a positive integer'];
  if (min !== undefined && hasMax) parts.push(`${min}–${max}`);
  else {
    if (min !== undefined && min > -SAFE_MAX) parts.push(`at least ${min}`);
    if (hasMax) parts.push(`at most ${max}`);
  }
  if (exMin !== undefined) parts.unshift(`greater than ${exMin}`);
  if (exMax !== undefined) parts.push(`less than ${exMax}`);
  if (isInt && parts.length) parts.unshift('integer');
  return parts;
}

/** The limits a client may drop (min/max, lengths, item counts, pattern), said in words. Empty when there are none. */
export function limitsInWords(node: Json): string {
  const parts: string[] = [];
  if (node.type === 'number' || node.type === 'integer') parts.push(...numberLimits(node));
  const minLen = node.minLength as number | undefined;
  const maxLen = node.maxLength as number | undefined;
  if (maxLen !== undefined) parts.push(minLen !== undefined && minLen > 1 ? `${minLen}–${maxLen} characters` : `at most ${maxLen} characters`);
  else if (minLen !== undefined && minLen > 1) parts.push(`at least ${minLen} characters`);
  if (typeof node.pattern === 'string') parts.push(`matching /${node.pattern}/`);
  if (node.maxItems !== undefined) parts.push(`at most ${String(node.maxItems)} items`);
  if (node.minItems !== undefined && (node.minItems as number) > 0) parts.push(`at least ${String(node.minItems)} items`);
  if (isObject(node.items)) {
    const inner = limitsInWords(node.items);
    if (inner) parts.push(`each ${inner}`);
  }
  return parts.join(', ');
}

/** Appends "Limits: …" to each described input property whose description does not already state them. */
export function withLimitsInDescriptions<T>(schema: T): T {
  if (!isObject(schema)) return schema;
  const props = schema.properties;
  if (!isObject(props)) return schema;
  const next: Json = {};
  for (const [name, prop] of Object.entries(props)) {
    if (!isObject(prop)) {
      next[name] = prop;
      continue;
    }
    const words = limitsInWords(prop);
    const description = typeof prop.description === 'string' ? prop.description : '';
    const stated = words && description.includes(words);
    next[name] = words && !stated ? { ...prop, description: `${description}${description ? ' ' : ''}(Limits: ${words}.)` } : prop;
  }
  return { ...schema, properties: next } as T;
}
