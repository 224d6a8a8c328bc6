// Mutations of a configuration for fuzzing `apply`: each names where it
// struck, so a refusal can be checked to name that place.
import fc from 'fast-check';

export type Path = (string | number)[];

export interface Mutation {
  describe: string;
  /** Apply to a (cloned) document. */
  run(doc: unknown): unknown;
  /** Is a reported problem (its path and line) about this mutation? */
  relates(problemPath: string, line: string): boolean;
}

/** `a.b[1].c`, as apply names paths (odd keys quoted: `entities["a b"]`). */
export const pathText = (p: Path): string =>
  p
    .map((x, i) => (typeof x === 'number' ? `[${x}]` : !/^[^\u0000-\u001f\u007f-\u009f.[\]"\s]+$/.test(x) ? `[${JSON.stringify(x)}]` : i === 0 ? x : `.${x}`))
    .join('');

/** Problem lines of an apply error (after the "N problems in the configuration:" header), each with its path. */
export function configProblems(message: string): { path: string; line: string }[] {
  // A `__proto__` key is refused by the control socket before apply sees the file: the path is in the message.
  const proto = /forbidden key "__proto__" \(at (?:args\.config\.)?([^)]*)\)/.exec(message);
  if (proto) return [{ path: proto[1]!, line: message }];
  const lines = message.split('\n');
  const body = /^\d+ problems? in the configuration( \(the first \d+\))?:$/.test(lines[0]!) ? lines.slice(1) : lines;
  return body
    .filter((l) => l.trim())
    .map((line) => {
      const i = line.indexOf(': ');
      return { path: i < 0 ? '' : line.slice(0, i), line };
    });
}

/** Near: one path inside the other, or both under the mutated node's parent (a refine names a sibling). */
function near(mutated: Path, reported: string): boolean {
  // msgpackr decodes a `__proto__` key as `__proto_` (no prototype pollution): the same key.
  const problem = reported.replace(/__proto_(?!_)/g, '__proto__');
  const within = (a: string, b: string) => a === b || (a.startsWith(b) && (a[b.length] === '.' || a[b.length] === '['));
  const m = pathText(mutated);
  const parent = pathText(mutated.slice(0, -1));
  return within(m, problem) || within(problem, m) || (mutated.length > 1 && within(problem, parent));
}

const ODD_NAMES = [
  '*',
  '',
  '.',
  '..',
  'a/b',
  'é',
  '日本語',
  '😀',
  'tab\there',
  'nl\nx',
  '\u0001',
  '\u007f',
  'x'.repeat(129),
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  ' ',
  'a b',
  '-',
  'web',
];
const HUGE = ['x'.repeat(100_000), '😀'.repeat(30_000), '\u0000'.repeat(1000), 'é\u0301'.repeat(20_000)];
const BOUNDS = [
  0,
  -1,
  1,
  1.5,
  -0.5,
  63,
  64,
  65,
  100,
  101,
  128,
  129,
  1024,
  1025,
  1_000_000,
  1_000_001,
  3_600_000,
  3_600_001,
  86_400_000,
  86_400_001,
  2 ** 31,
  2 ** 53,
  Number.MAX_SAFE_INTEGER + 2,
  1e308,
  -1e308,
  Number.MIN_VALUE,
];
const OTHER_TYPES: unknown[] = [null, true, false, 0, 42, -7, 'text', '', [], [1, 'two'], {}, { nested: { deeper: [] } }];

/** Every node of a JSON document, as paths (the root excluded). */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push([...at, i], ...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push([...at, k], ...paths(x, [...at, k]));
  return out;
}

function get(doc: unknown, p: Path): unknown {
  return p.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], doc);
}

/** Replace (or with `undefined`, delete) the node at `p`; own properties only, so `__proto__` is a plain key. */
function set(doc: unknown, p: Path, value: unknown): unknown {
  if (p.length === 0) return value;
  const parent = get(doc, p.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const k = p[p.length - 1]!;
  if (Array.isArray(parent) && typeof k === 'number') {
    if (value === undefined) parent.splice(k, 1);
    else parent[k] = value;
  } else if (value === undefined) delete (parent as Record<string, unknown>)[k];
  else Object.defineProperty(parent, k, { value, enumerable: true, writable: true, configurable: true });
  return doc;
}

const clone = (v: unknown): unknown => structuredClone(v);

function deep(depth: number, leaf: unknown, asArray: boolean): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { [`k${i % 3}`]: v };
  return v;
}

type Pick = (doc: unknown) => Path[];
const allPaths: Pick = (doc) => paths(doc);
const ofType =
  (pred: (v: unknown) => boolean): Pick =>
  (doc) =>
    paths(doc).filter((p) => pred(get(doc, p)));
const keyed: Pick = (doc) => paths(doc).filter((p) => typeof p[p.length - 1] === 'string');

/** A mutation that strikes the `index`-th (mod count) node chosen by `pick`. */
function at(name: string, pick: Pick, index: number, edit: (doc: unknown, p: Path) => { doc: unknown; where: Path }): Mutation {
  let where: Path = [];
  let label = name;
  return {
    get describe() {
      return label;
    },
    run(doc) {
      const ps = pick(doc);
      if (ps.length === 0) return doc;
      const p = ps[index % ps.length]!;
      const r = edit(clone(doc), p);
      where = r.where;
      label = `${name} at ${pathText(where)}`;
      return r.doc;
    },
    relates: (problem) => near(where, problem),
    [fc.toStringMethod]: () => label,
  } as Mutation;
}

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((i) => at('drop', allPaths, i, (d, p) => ({ doc: set(d, p, undefined), where: p }))),
  fc.tuple(fc.nat(), fc.constantFrom('copy', '2', '*', 'é', '__proto__')).map(([i, suffix]) =>
    at(`duplicate (${suffix})`, allPaths, i, (d, p) => {
      const k = p[p.length - 1]!;
      const parent = p.slice(0, -1);
      const v = clone(get(d, p));
      if (typeof k === 'number') {
        (get(d, parent) as unknown[]).splice(k, 0, v);
        return { doc: d, where: [...parent, k + 1] };
      }
      const nk = suffix === '*' || suffix === '__proto__' ? suffix : `${k}${suffix}`;
      return { doc: set(d, [...parent, nk], v), where: [...parent, nk] };
    }),
  ),
  fc
    .tuple(fc.nat(), fc.constantFrom(...OTHER_TYPES))
    .map(([i, v]) => at(`retype to ${JSON.stringify(v)}`, allPaths, i, (d, p) => ({ doc: set(d, p, clone(v)), where: p }))),
  fc.tuple(fc.nat(), fc.nat({ max: HUGE.length - 1 })).map(([i, h]) =>
    at(
      `huge string #${h}`,
      ofType((v) => typeof v === 'string'),
      i,
      (d, p) => ({ doc: set(d, p, HUGE[h]), where: p }),
    ),
  ),
  fc.tuple(fc.nat(), fc.constantFrom(1000, 10_000)).map(([i, n]) =>
    at(`huge array (${n})`, ofType(Array.isArray), i, (d, p) => {
      // Copies of a primitive element, else numbers: copies of a subtree would multiply a nested document by n.
      const first = (get(d, p) as unknown[])[0];
      return {
        doc: set(
          d,
          p,
          Array.from({ length: n }, (_, j) => (first !== null && typeof first === 'object' ? j : (first ?? j))),
        ),
        where: p,
      };
    }),
  ),
  fc
    .tuple(fc.nat(), fc.constantFrom(100, 1000), fc.boolean())
    .map(([i, depth, arr]) => at(`nested ${depth} deep`, allPaths, i, (d, p) => ({ doc: set(d, p, deep(depth, get(d, p), arr)), where: p }))),
  fc.tuple(fc.nat(), fc.constantFrom('bogus', 'Command', 'x-extra', 'é', '__proto__', '')).map(([i, k]) =>
    at(
      `unknown key ${JSON.stringify(k)}`,
      ofType((v) => !!v && typeof v === 'object' && !Array.isArray(v)),
      i,
      (d, p) => ({ doc: set(d, [...p, k], 1), where: [...p, k] }),
    ),
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...ODD_NAMES)).map(([i, name]) =>
    at(`rename to ${JSON.stringify(name.slice(0, 20))}`, keyed, i, (d, p) => {
      const v = get(d, p);
      set(d, p, undefined);
      const np = [...p.slice(0, -1), name];
      return { doc: set(d, np, v), where: np };
    }),
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...BOUNDS)).map(([i, n]) =>
    at(
      `number ${n}`,
      ofType((v) => typeof v === 'number'),
      i,
      (d, p) => ({ doc: set(d, p, n), where: p }),
    ),
  ),
  fc
    .constantFrom<[string, Record<string, string[]>]>(
      ['db → api → db', { db: ['api'] }],
      ['web → web', { web: ['web'] }],
      ['web → db → api → web', { web: ['db'], db: ['api'], api: ['web'] }],
    )
    .map(
      ([label, edges]): Mutation =>
        ({
          describe: `requires cycle ${label}`,
          run(doc) {
            const d = clone(doc) as { entities?: Record<string, { requires?: string[] }> };
            for (const [from, to] of Object.entries(edges)) {
              const e = d.entities?.[from];
              if (e && typeof e === 'object') e.requires = to;
            }
            return d;
          },
          [fc.toStringMethod]: () => `requires cycle ${label}`,
          relates: (problem, line) =>
            line.includes('dependency cycle') || line.includes('cannot require itself') || Object.keys(edges).some((e) => problem.startsWith(`entities.${e}`)),
        }) as Mutation,
    ),
);

/** Apply one mutation to a document. */
export const mutate = (doc: unknown, m: Mutation): unknown => m.run(doc);
