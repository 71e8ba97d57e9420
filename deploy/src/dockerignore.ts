// .dockerignore semantics (moby/patternmatcher): patterns are paths relative to the context root
// (a leading `/` is dropped), `*` and `?` stay inside one path segment, `**` spans any number of
// segments, a `!` line re-includes, the last matching line wins, and excluding a directory
// excludes everything under it.

export interface IgnoreRule {
  pattern: string;
  negated: boolean;
  regex: RegExp;
}

function toRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]!}`;
    else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    if (negated) line = line.slice(1).trim();
    line = line.replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\//, '');
    if (!line) continue;
    rules.push({ pattern: line, negated, regex: toRegex(line) });
  }
  return rules;
}

/** Whether a context-relative path (forward slashes) is left out of the build context. */
export function isIgnored(rules: readonly IgnoreRule[], relPath: string): boolean {
  const parts = relPath.replace(/^\.\//, '').split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.regex.test(c))) ignored = !rule.negated;
  }
  return ignored;
}
