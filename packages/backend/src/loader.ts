// The optional native packages are found by dynamic import, through an injectable loader so
// tests can simulate "absent", "present but broken" and "present but on the CPU".
export type ModuleLoader = (specifier: string) => Promise<unknown>;

export const importLoader: ModuleLoader = (specifier) => import(specifier);

/** True when the error says the package itself is not installed (not a broken dependency). */
export function isModuleNotFound(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // "Cannot find package '@tensorflow/tfjs-node' imported from ..." names the package we asked for;
  // a missing file inside an installed package (e.g. its native binding) is "broken", not absent.
  return error.message.includes(`'${specifier}'`) || error.message.includes(`"${specifier}"`);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}
