// A Dockerfile as stages of instructions, with build-arg defaults expanded: what the linter and
// the CI-parity checks reason about. Parsing (line continuations, flags, parser directives) is
// dockerfile-ast's, the parser behind the VS Code Docker language service.
import { DockerfileParser, type Instruction as AstInstruction } from 'dockerfile-ast';

export interface Instruction {
  /** 1-based line of the keyword. */
  line: number;
  keyword: string;
  /** The arguments with line continuations joined, flags included, variables not expanded. */
  args: string;
  /** `--from=build` → { from: 'build' }; a flag without a value maps to null. */
  flags: Record<string, string | null>;
}

export interface Stage {
  /** `AS name`, or null for an unnamed stage. */
  name: string | null;
  /** FROM line. */
  line: number;
  /** The base as written (`${CUDA_IMAGE}`) and with build args expanded. */
  baseRaw: string;
  base: string;
  /** Set when the base is an earlier stage of this file. */
  baseStage: string | null;
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM, with their defaults (usable in FROM lines). */
  globalArgs: Map<string, string>;
  stages: Stage[];
  /** Parser directives such as `syntax`. */
  directives: Map<string, string>;
}

function flagsOf(instruction: AstInstruction): Record<string, string | null> {
  const flags: Record<string, string | null> = {};
  const withFlags = instruction as AstInstruction & {
    getFlags?: () => { getName(): string; getValue(): string | null }[];
  };
  for (const flag of withFlags.getFlags?.() ?? []) flags[flag.getName()] = flag.getValue();
  return flags;
}

/** Splits `NAME=value` (ARG / ENV) pairs; quotes around a value are removed. */
export function assignments(args: string): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const re = /([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g;
  for (const m of args.matchAll(re)) {
    const raw = m[2];
    out.set(m[1]!, raw === undefined ? null : raw.replace(/^(["'])(.*)\1$/s, '$2'));
  }
  return out;
}

/** Expands `$VAR`, `${VAR}` and `${VAR:-default}` from vars; unknown variables stay as written. */
export function expand(text: string, vars: ReadonlyMap<string, string | null>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced, dflt, bare) => {
      const name = (braced ?? bare) as string;
      const value = vars.get(name);
      if (value !== undefined && value !== null && value !== '') return value;
      return dflt !== undefined ? (dflt as string) : whole;
    },
  );
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const ast = DockerfileParser.parse(text);
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  const directives = new Map<string, string>();
  for (const d of ast.getDirectives()) directives.set(d.getName().toLowerCase(), d.getValue());

  for (const node of ast.getInstructions()) {
    const instruction: Instruction = {
      line: node.getRange().start.line + 1,
      keyword: node.getKeyword().toUpperCase(),
      args: node.getArgumentsContent() ?? '',
      flags: flagsOf(node),
    };
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const baseRaw = words[0] ?? '';
      const name = words.length >= 3 && words[1]!.toUpperCase() === 'AS' ? words[2]! : null;
      const base = expand(baseRaw, globalArgs);
      const baseStage = stages.some((s) => s.name === base) ? base : null;
      stages.push({ name, line: instruction.line, baseRaw, base, baseStage, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (current) current.instructions.push(instruction);
    else if (instruction.keyword === 'ARG') {
      for (const [k, v] of assignments(instruction.args)) globalArgs.set(k, v ?? '');
    }
  }
  return { globalArgs, stages, directives };
}

/** Build args and ENV values visible in a stage (its ARG defaults, re-declared globals, ENVs, inherited from its base stage). */
export function stageVariables(file: ParsedDockerfile, stage: Stage): Map<string, string | null> {
  const vars = new Map<string, string | null>();
  const parent = stage.baseStage ? file.stages.find((s) => s.name === stage.baseStage) : undefined;
  if (parent) for (const [k, v] of stageVariables(file, parent)) vars.set(k, v);
  for (const i of stage.instructions) {
    if (i.keyword !== 'ARG' && i.keyword !== 'ENV') continue;
    for (const [k, v] of assignments(i.args)) {
      // `ARG NAME` without a default re-imports a global ARG into the stage.
      vars.set(k, v ?? file.globalArgs.get(k) ?? vars.get(k) ?? null);
    }
  }
  return vars;
}

/** The JSON (exec) form of ENTRYPOINT / CMD / VOLUME, or null for the shell form. */
export function execForm(instruction: Instruction): string[] | null {
  const text = instruction.args.trim();
  if (!text.startsWith('[')) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.every((x) => typeof x === 'string') ? (parsed as string[]) : null;
  } catch {
    return null;
  }
}

/** The commands of one RUN, split on `&&`, `;` and `||`, each trimmed (a good enough shell split for checks). */
export function runCommands(instruction: Instruction): string[] {
  return instruction.args
    .split(/&&|\|\||;/)
    .map((c) => c.trim().replace(/\s+/g, ' '))
    .filter((c) => c.length > 0);
}

export function findStage(file: ParsedDockerfile, name: string): Stage {
  const stage = file.stages.find((s) => s.name === name);
  if (!stage)
    throw new Error(`Dockerfile has no stage named "${name}" (stages: ${file.stages.map((s) => s.name).join(', ')})`);
  return stage;
}

/** The last instruction of a kind in a stage, following FROM <stage> chains (ENTRYPOINT, USER, ... are inherited). */
export function effective(file: ParsedDockerfile, stage: Stage, keyword: string): Instruction | null {
  const own = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (own) return own;
  const parent = stage.baseStage ? file.stages.find((s) => s.name === stage.baseStage) : undefined;
  return parent ? effective(file, parent, keyword) : null;
}
