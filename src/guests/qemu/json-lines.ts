/**
 * Incremental parser for newline-delimited JSON streams (QMP, the QEMU guest agent).
 *
 * Bytes are collected until a `\n` (0x0A); each complete, non-blank line is parsed as one JSON
 * value. Chunks may split a line (or a multi-byte UTF-8 character) anywhere, and one chunk may hold
 * several lines. A 0xFF byte can never occur in UTF-8 JSON; the guest agent uses it as a resync
 * delimiter, so it discards any partial line and is reported through `onMarker`.
 */
export interface JsonLinesHandlers {
  /** One parsed JSON value per line. */
  onValue: (value: unknown) => void;
  /** A line that was not valid JSON (the raw text, trimmed). */
  onInvalid?: (line: string, err: unknown) => void;
  /** A 0xFF byte was seen; the partial line before it has been dropped. */
  onMarker?: () => void;
}

export class JsonLineParser {
  private parts: Buffer[] = [];
  private readonly handlers: JsonLinesHandlers;
  /** Refuse to buffer a single line larger than this (defence against a runaway peer). */
  readonly maxLineBytes: number;
  private buffered = 0;

  constructor(handlers: JsonLinesHandlers, maxLineBytes = 64 * 1024 * 1024) {
    this.handlers = handlers;
    this.maxLineBytes = maxLineBytes;
  }

  /** Drops any partial line. */
  reset(): void {
    this.parts = [];
    this.buffered = 0;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === 0x0a) {
        this.append(chunk.subarray(start, i));
        start = i + 1;
        this.flushLine();
      } else if (b === 0xff) {
        start = i + 1;
        this.reset();
        this.handlers.onMarker?.();
      }
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    this.buffered += part.length;
    if (this.buffered > this.maxLineBytes) {
      this.reset();
      this.handlers.onInvalid?.('', new Error(`line longer than ${this.maxLineBytes} bytes discarded`));
      return;
    }
    // Copy: the caller's chunk buffer may be reused.
    this.parts.push(Buffer.from(part));
  }

  private flushLine(): void {
    const text = (this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts)).toString('utf8').trim();
    this.reset();
    if (text === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.handlers.onInvalid?.(text, err);
      return;
    }
    this.handlers.onValue(value);
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
