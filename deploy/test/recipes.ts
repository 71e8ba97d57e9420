// The recipes under test, loaded once, and the facts several tests cross-check.
import { readFileSync } from 'node:fs';
import {
  deployPath,
  execForm,
  findStage,
  parseDockerfile,
  repoPath,
  stageVariables,
  type ParsedDockerfile,
} from '../src/index.js';

export const DOCKERFILE = 'deploy/Dockerfile';
export const dockerfileText = readFileSync(deployPath('Dockerfile'), 'utf8');
export const dockerfile: ParsedDockerfile = parseDockerfile(dockerfileText);

/** The images users run: `--target cpu` and the default (last) stage. */
export const TARGETS = ['cpu', 'gpu'] as const;

/** ENV of the gpu image: the recipes may leave to it what it sets. */
export const gpuImageEnv = stageVariables(dockerfile, findStage(dockerfile, 'gpu'));

export const stageNames = dockerfile.stages.map((s) => s.name).filter((n): n is string => n !== null);

/** Mount points the shipped images declare (the same in every target; checked in dockerfile.test). */
export function imageVolumes(target: string = 'gpu'): string[] {
  const volume = findStage(dockerfile, target)
    .instructions.filter((i) => i.keyword === 'VOLUME')
    .at(-1);
  return volume ? (execForm(volume) ?? volume.args.split(/\s+/)) : [];
}

export function readJson<T>(relPath: string): T {
  return JSON.parse(readFileSync(repoPath(relPath), 'utf8')) as T;
}

export interface PackageJson {
  name: string;
  version?: string;
  workspaces?: string[];
  scripts?: Record<string, string>;
  bin?: Record<string, string> | string;
  packageManager?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  allowScripts?: Record<string, boolean>;
}
