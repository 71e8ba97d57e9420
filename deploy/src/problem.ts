/** One finding of a static check: where, which rule, and what to do about it. */
export interface Problem {
  file: string;
  /** 1-based line, when the check knows it. */
  line?: number;
  rule: string;
  message: string;
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems
    .map((p) => `${p.file}${p.line === undefined ? '' : `:${p.line}`}: [${p.rule}] ${p.message}`)
    .join('\n');
}
