/**
 * Unknown launcher flags, found before yargs sees them. yargs reads `--bogus train` as the
 * flag `bogus` with the value `train`, so halt-at-non-option never stops at `train` and every
 * train option after it is reported as unknown too. Scanning the launcher's part of the
 * command line first (up to the command word) names only the flags that are really unknown.
 */
import { UsageError } from './errors.js';

/** The words that end the launcher's options: what runs next. */
const COMMAND_WORDS: ReadonlySet<string> = new Set(['train', 'export', 'doctor', '__probe', '--']);

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  alias?: string[];
}

const snake = (name: string) => name.replace(/-/g, '_');
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Every spelling yargs accepts for these options: kebab, snake, camel, aliases, --no-<boolean>. */
function knownFlags(options: Readonly<Record<string, FlagSpec>>): Map<string, FlagSpec> {
  const known = new Map<string, FlagSpec>([
    ['help', { type: 'boolean' }],
    ['h', { type: 'boolean' }],
  ]);
  for (const [name, spec] of Object.entries(options)) {
    for (const n of [name, ...(spec.alias ?? [])]) {
      for (const form of [n, snake(n), camel(n)]) {
        known.set(form, spec);
        if (spec.type === 'boolean') known.set(`no-${form}`, spec);
      }
    }
  }
  return known;
}

const isCommand = (word: string) => COMMAND_WORDS.has(word) || /\.(m|c)?js$/.test(word);

/** Throws UsageError naming the unknown flags before the command word (yargs' wording). */
export function rejectUnknownFlags(argv: readonly string[], options: Readonly<Record<string, FlagSpec>>): void {
  const known = knownFlags(options);
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (isCommand(word) || !word.startsWith('-') || word === '-') break;
    const body = word.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = known.get(name);
    if (!spec) {
      unknown.push(name);
      continue;
    }
    if (eq >= 0) continue;
    const next = argv[i + 1];
    // a value-taking option takes the next word; a boolean only an explicit true/false
    if (spec.type !== 'boolean' || next === 'true' || next === 'false') i++;
  }
  if (unknown.length > 0) {
    throw new UsageError(
      `Unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (launcher options go before \`train\`, train options after it; see --help)`,
    );
  }
}
