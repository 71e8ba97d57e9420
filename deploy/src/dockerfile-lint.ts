// The Dockerfile linter the test suite runs. Two layers, both from npm so that CI on a fresh
// machine needs nothing else (hadolint is neither on npm nor in Debian):
//  1. dockerfile-utils' validator (the VS Code Docker extension's): syntax, unknown instructions
//     and flags, malformed JSON forms, relative WORKDIR, duplicate CMD/ENTRYPOINT per stage;
//  2. our rules below, modelled on hadolint's best-practice checks (its DL numbers in brackets),
//     which dockerfile-utils does not have.
import { validate, ValidationSeverity } from 'dockerfile-utils';
import {
  assignments,
  effective,
  execForm,
  expand,
  parseDockerfile,
  runCommands,
  stageVariables,
  type Instruction,
  type ParsedDockerfile,
  type Stage,
} from './dockerfile.js';
import type { Problem } from './problem.js';

export interface LintOptions {
  /** File name used in problems. */
  file?: string;
  /** Stages that are shipped images (must end as non-root, exec-form ENTRYPOINT...). Default: the last stage. */
  targets?: string[];
}

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIALS?)$/i;

function utilsProblems(text: string, file: string): Problem[] {
  const severities = {
    deprecatedMaintainer: ValidationSeverity.ERROR,
    directiveCasing: ValidationSeverity.ERROR,
    emptyContinuationLine: ValidationSeverity.ERROR,
    instructionCasing: ValidationSeverity.ERROR,
    instructionCmdMultiple: ValidationSeverity.ERROR,
    instructionEntrypointMultiple: ValidationSeverity.ERROR,
    instructionHealthcheckMultiple: ValidationSeverity.ERROR,
    instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
    instructionWorkdirRelative: ValidationSeverity.ERROR,
  };
  return validate(text, severities).map((d) => ({
    file,
    line: d.range.start.line + 1,
    rule: `dockerfile-utils:${String(d.code ?? 'syntax')}`,
    message: typeof d.message === 'string' ? d.message : d.message.value,
  }));
}

/** The command words of one shell command, for matching `apt-get install ...` and friends. */
function words(command: string): string[] {
  return command.split(/\s+/).filter((w) => w.length > 0);
}

function lintRun(i: Instruction, vars: Map<string, string | null>, file: string): Problem[] {
  const problems: Problem[] = [];
  const at = (rule: string, message: string): void => {
    problems.push({ file, line: i.line, rule, message });
  };
  const commands = runCommands(i);
  const hasAptInstall = commands.some((c) => /^apt-get (.* )?install\b/.test(c));
  for (const c of commands) {
    const w = words(c);
    if (w[0] === 'sudo') at('DL3004', 'do not use sudo: the build runs as root until USER');
    if (w[0] === 'cd') at('DL3003', 'use WORKDIR instead of cd');
    if (w[0] === 'apt-get' && (w.includes('upgrade') || w.includes('dist-upgrade'))) {
      at('DL3005', 'do not apt-get upgrade in an image: pin the base image instead');
    }
    if (w[0] === 'apt-get' && w.includes('install')) {
      if (!w.includes('-y') && !w.includes('--yes') && !w.includes('--assume-yes')) {
        at('DL3014', 'apt-get install needs -y (the build has no terminal)');
      }
      if (!w.includes('--no-install-recommends')) at('DL3015', 'apt-get install needs --no-install-recommends');
    }
    if (w[0] === 'npm' && (w[1] === 'install' || w[1] === 'i' || w[1] === 'add')) {
      // Named packages must be pinned (DL3016); `npm install` alone installs from the lockfile.
      for (const spec of w.slice(2).filter((x) => !x.startsWith('-'))) {
        const resolved = expand(spec.replace(/^["']|["']$/g, ''), vars);
        const at_ = resolved.lastIndexOf('@');
        const version = at_ > 0 ? resolved.slice(at_ + 1) : '';
        if (!/^\d+\.\d+\.\d+(?:-[\w.]+)?$/.test(version)) {
          at('DL3016', `npm install ${spec}: pin an exact version (pkg@x.y.z), got "${resolved}"`);
        }
      }
    }
    if (/\bcurl\b|\bwget\b/.test(c) && /\|\s*(ba)?sh\b/.test(i.args)) {
      at('DL4006', 'piping a download into a shell hides failures: download, verify, then run');
    }
  }
  if (hasAptInstall) {
    if (!commands.some((c) => /^apt-get (.* )?update\b/.test(c))) {
      at('DL3009', 'apt-get update must run in the same RUN as apt-get install (a cached update layer goes stale)');
    }
    if (!commands.some((c) => c.includes('rm -rf /var/lib/apt/lists'))) {
      at('DL3009', 'remove /var/lib/apt/lists/* in the RUN that installs packages');
    }
  }
  return problems;
}

/** FROM: a pinned base (a tag that is not "latest", or a digest), unless it is an earlier stage or scratch. */
function lintBase(stage: Stage, name: string): Problem[] {
  if (stage.baseStage || stage.base === 'scratch') return [];
  const problem = (rule: string, message: string): Problem[] => [{ file: name, line: stage.line, rule, message }];
  if (/\$\{?[A-Za-z_]/.test(stage.base))
    return problem('DL3006', `FROM ${stage.baseRaw}: the build arg has no default`);
  const lastPart = stage.base.split('/').at(-1) ?? '';
  const tag = lastPart.includes('@') ? 'digest' : lastPart.split(':')[1];
  if (!tag) return problem('DL3006', `FROM ${stage.base}: pin a tag`);
  if (tag === 'latest') return problem('DL3007', `FROM ${stage.base}: "latest" is not a version`);
  return [];
}

/** One instruction of a stage: RUN's commands, ADD only for URLs, COPY --from a known stage, no baked secrets. */
function lintInstruction(
  i: Instruction,
  vars: Map<string, string | null>,
  stageNames: ReadonlySet<string>,
  name: string,
): Problem[] {
  const problems: Problem[] = [];
  const at = (rule: string, message: string): void => {
    problems.push({ file: name, line: i.line, rule, message });
  };
  switch (i.keyword) {
    case 'RUN':
      problems.push(...lintRun(i, vars, name));
      break;
    case 'ADD':
      if (!/^\s*(https?:\/\/|git@)/.test(i.args.replace(/--\S+\s+/g, '')))
        at('DL3020', 'use COPY, not ADD, for files from the context');
      break;
    case 'COPY': {
      const from = i.flags['from'];
      if (from !== undefined && from !== null && !stageNames.has(from) && !/[:@]/.test(from)) {
        at('DL3022', `COPY --from=${from}: no earlier stage has that name`);
      }
      break;
    }
    case 'ARG':
    case 'ENV':
      for (const [k, v] of assignments(i.args)) {
        if (SECRET_NAME.test(k) && v)
          at('YL-SECRET', `${i.keyword} ${k} bakes a secret into the image layers: pass it at run time`);
      }
      break;
    default:
      break;
  }
  return problems;
}

/** A shipped image: a non-root USER, and ENTRYPOINT / CMD in exec form so that they receive signals. */
function lintTarget(file: ParsedDockerfile, stage: Stage, name: string): Problem[] {
  const problems: Problem[] = [];
  const user = effective(file, stage, 'USER');
  const who = user?.args.trim().split(':')[0];
  if (!user || who === 'root' || who === '0') {
    problems.push({
      file: name,
      line: user?.line ?? stage.line,
      rule: 'DL3002',
      message: `stage ${stage.name ?? '(unnamed)'}: the image must not run as root: end with USER <non-root>`,
    });
  }
  for (const kw of ['ENTRYPOINT', 'CMD']) {
    const i = effective(file, stage, kw);
    if (i && !execForm(i)) {
      problems.push({
        file: name,
        line: i.line,
        rule: 'DL3025',
        message: `${kw} in shell form does not receive signals: use the JSON form`,
      });
    }
  }
  return problems;
}

function lintStage(file: ParsedDockerfile, stage: Stage, isTarget: boolean, name: string): Problem[] {
  const vars = stageVariables(file, stage);
  const stageNames = new Set(file.stages.map((s) => s.name).filter((n): n is string => n !== null));
  return [
    ...lintBase(stage, name),
    ...stage.instructions.flatMap((i) => lintInstruction(i, vars, stageNames, name)),
    ...(isTarget ? lintTarget(file, stage, name) : []),
  ];
}

/** Every problem found in a Dockerfile's text; an empty list means it passes. */
export function lintDockerfile(text: string, options: LintOptions = {}): Problem[] {
  const file = options.file ?? 'Dockerfile';
  const parsed = parseDockerfile(text);
  const problems = utilsProblems(text, file);
  if (parsed.stages.length === 0) {
    problems.push({ file, rule: 'DL-NOFROM', message: 'no FROM instruction' });
    return problems;
  }
  const targets = new Set(options.targets ?? [parsed.stages.at(-1)!.name ?? '']);
  for (const stage of parsed.stages) {
    problems.push(...lintStage(parsed, stage, targets.has(stage.name ?? ''), file));
  }
  return problems;
}
