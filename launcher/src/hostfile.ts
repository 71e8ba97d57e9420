/**
 * DeepSpeed-style hostfiles and host selection.
 *
 *   # comment
 *   worker-1 slots=4
 *   worker-2 slots=4   # trailing comments are fine
 *
 * `--include` / `--exclude` use DeepSpeed's syntax: `host[:slot,slot]@host...`, e.g.
 * `worker-1:0,2@worker-2` selects slots 0 and 2 of worker-1 and every slot of worker-2.
 * Slots are GPU indices on that host (0 .. slots-1).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

export interface HostEntry {
  host: string;
  slots: number;
  /** 1-based line number in the hostfile, for error messages. */
  line: number;
}

/** A host chosen to run workers, with the slot (GPU) indices it will use, in order. */
export interface SelectedHost {
  host: string;
  slots: number[];
}

const HOST_LINE = /^(\S+)\s+slots\s*=\s*(\S+)$/;

export function parseHostfile(text: string, source = 'hostfile'): HostEntry[] {
  const entries: HostEntry[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') return;
    const match = HOST_LINE.exec(content);
    if (!match) {
      throw new UsageError(`${source}:${line}: malformed line "${raw.trim()}"; expected "hostname slots=N"`);
    }
    const host = match[1]!;
    const slotsText = match[2]!;
    if (!/^\d+$/.test(slotsText) || Number(slotsText) < 1) {
      throw new UsageError(`${source}:${line}: slots must be a positive integer, got "${slotsText}"`);
    }
    const previous = seen.get(host);
    if (previous !== undefined) {
      throw new UsageError(`${source}:${line}: host "${host}" is listed twice (first on line ${previous})`);
    }
    seen.set(host, line);
    entries.push({ host, slots: Number(slotsText), line });
  });
  if (entries.length === 0) throw new UsageError(`${source}: no hosts listed`);
  return entries;
}

export function readHostfile(path: string): HostEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read hostfile ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseHostfile(text, path);
}

/** `a:0,1@b` → Map { a → [0,1], b → null (all slots) }. */
export function parseHostSelector(spec: string, flag: string): Map<string, number[] | null> {
  const result = new Map<string, number[] | null>();
  for (const part of spec.split('@')) {
    const item = part.trim();
    if (item === '') throw new UsageError(`${flag} "${spec}": empty host entry`);
    const colon = item.indexOf(':');
    const host = colon < 0 ? item : item.slice(0, colon);
    if (host === '') throw new UsageError(`${flag} "${spec}": missing host name in "${item}"`);
    if (result.has(host)) throw new UsageError(`${flag} "${spec}": host "${host}" given twice`);
    if (colon < 0) {
      result.set(host, null);
      continue;
    }
    const slots = item
      .slice(colon + 1)
      .split(',')
      .map((s) => s.trim());
    if (slots.some((s) => !/^\d+$/.test(s))) {
      throw new UsageError(`${flag} "${spec}": slots of "${host}" must be comma-separated integers`);
    }
    result.set(
      host,
      [...new Set(slots.map(Number))].sort((x, y) => x - y),
    );
  }
  return result;
}

/** Applies --include or --exclude to the hostfile; the hostfile's order is kept. */
export function selectHosts(entries: readonly HostEntry[], include?: string, exclude?: string): SelectedHost[] {
  if (include && exclude) throw new UsageError('--include and --exclude cannot be used together');
  const all: SelectedHost[] = entries.map((e) => ({
    host: e.host,
    slots: Array.from({ length: e.slots }, (_, i) => i),
  }));
  const byHost = new Map(entries.map((e) => [e.host, e]));
  const selector = include
    ? parseHostSelector(include, '--include')
    : exclude
      ? parseHostSelector(exclude, '--exclude')
      : null;
  if (!selector) return all;
  const flag = include ? '--include' : '--exclude';
  for (const [host, slots] of selector) {
    const entry = byHost.get(host);
    if (!entry) {
      throw new UsageError(
        `${flag}: unknown host "${host}" (the hostfile lists ${entries.map((e) => e.host).join(', ')})`,
      );
    }
    for (const slot of slots ?? []) {
      if (slot >= entry.slots) {
        throw new UsageError(`${flag}: host "${host}" has slots 0..${entry.slots - 1}, not ${slot}`);
      }
    }
  }
  const selected = all
    .map((h) => {
      const chosen = selector.get(h.host);
      if (include) {
        if (chosen === undefined) return null;
        return { host: h.host, slots: chosen ?? h.slots };
      }
      if (chosen === undefined) return h;
      if (chosen === null) return null;
      return { host: h.host, slots: h.slots.filter((s) => !chosen.includes(s)) };
    })
    .filter((h): h is SelectedHost => h !== null && h.slots.length > 0);
  if (selected.length === 0) throw new UsageError(`${flag} leaves no host to run on`);
  return selected;
}
