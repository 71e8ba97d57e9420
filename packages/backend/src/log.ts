// The backend logs one line per decision. Callers (train, launcher) may pass their own pino
// logger; anything with info/warn methods taking a string fits.
export interface BackendLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const stderrLogger: BackendLogger = {
  info: (message) => process.stderr.write(`[backend] ${message}\n`),
  warn: (message) => process.stderr.write(`[backend] WARNING ${message}\n`),
};
