// Errors the process group raises. They cross the engine-thread boundary as plain data
// (structured clone drops subclasses), so every error can be rebuilt from `SerializedError`.

export type CommErrorCode =
  | 'RENDEZVOUS' // refused or failed while the ranks were meeting
  | 'PEER_DEAD' // a rank died, left, or stopped heartbeating
  | 'TIMEOUT' // the optional per-call timeout fired
  | 'MISMATCH' // ranks called different collectives or passed different sizes
  | 'DESTROYED' // the group was destroyed
  | 'INVALID'; // bad argument

export class CommError extends Error {
  readonly code: CommErrorCode;
  /** The rank the error is about (the dead peer, the refused rank), when there is one. */
  readonly peerRank: number | undefined;
  constructor(code: CommErrorCode, message: string, peerRank?: number) {
    super(message);
    this.name = 'CommError';
    this.code = code;
    this.peerRank = peerRank;
  }
}

export interface SerializedError {
  code: CommErrorCode;
  message: string;
  peerRank?: number;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof CommError) return { code: err.code, message: err.message, peerRank: err.peerRank };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INVALID', message };
}

export function deserializeError(e: SerializedError): CommError {
  return new CommError(e.code, e.message, e.peerRank);
}
