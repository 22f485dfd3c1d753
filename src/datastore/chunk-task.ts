/** Messages between the main thread and the chunk workers (structured-clone safe). */
export type ChunkTask =
  | { op: 'store-range'; store: string; source: string; offset: number; length: number; key?: Uint8Array; compress: boolean }
  | { op: 'store-data'; store: string; data: Uint8Array; key?: Uint8Array; compress: boolean }
  | { op: 'load'; store: string; digest: string; size: number; key?: Uint8Array; target?: { path: string; offset: number; sparse: boolean } }
  | { op: 'verify'; store: string; digest: string; size: number; encrypted: boolean }
  /** Touch (atime) existing chunks; answers with those that are missing or empty. */
  | { op: 'touch'; store: string; digests: string[] };

export interface StoreResult {
  digest: string;
  zero: boolean;
  status: 'new' | 'duplicate';
  size: number;
  encodedSize: number;
}

export interface LoadResult {
  data?: Uint8Array;
}

export interface VerifyResult {
  ok: boolean;
  error?: string;
  missing?: boolean;
  encodedSize?: number;
}

export interface TouchResult {
  missing: string[];
}

export type ChunkTaskResult =
  | { ok: StoreResult | LoadResult | VerifyResult | TouchResult; error?: undefined }
  | { ok?: undefined; error: { code: string; message: string } };
