// Errors of the PyTorch .pt reader and writer: one closed set of codes, every message naming
// the file and what is wrong with it, so a user knows which file to replace and why.

export type PtErrorCode =
  | 'NOT_A_CHECKPOINT' // neither a zip archive nor a pickle (wrong file handed to --weights)
  | 'LEGACY_FORMAT' // PyTorch < 1.6 serialization (tar or raw pickle with torch's magic number)
  | 'TRUNCATED' // the zip's directory or a record is cut short
  | 'CORRUPT' // a record's CRC-32 does not match, or offsets point outside the file
  | 'UNSUPPORTED' // a pickle opcode, a storage type or a zip feature this reader does not handle
  | 'UNKNOWN_CLASS' // the model tree names a class outside the table (nothing was executed)
  | 'BAD_TENSOR' // a tensor view reaches outside its storage
  | 'SHAPE_MISMATCH' // a state_dict entry does not fit the model
  | 'BAD_MODEL'; // the pickled model lacks what a YOLOv5 DetectionModel has

export class PtError extends Error {
  readonly code: PtErrorCode;
  readonly file: string;
  constructor(code: PtErrorCode, file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'PtError';
    this.code = code;
    this.file = file;
  }
}
