import { zstdDecompressSync } from "node:zlib";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import type { ManifestObject } from "./manifest";

/**
 * Where the next statement of a backup object starts: a zstd frame and a byte offset into that
 * frame's decompressed SQL. A restore step keeps this between steps, so the next step asks R2 for
 * the object from that frame on (a range read) instead of reading and decompressing it from the start.
 */
export interface StatementPosition {
  frame: number;
  offset: number;
}

export const OBJECT_START: StatementPosition = { frame: 0, offset: 0 };

const NEWLINE = 10;
const isTriggerStart = (line: string) => /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(line);

/**
 * Joins lines into statements: one ends with ";" at the end of a line (rows never span lines; see
 * sql-render.ts), except inside a trigger, whose body statements end with ";" too: it ends with "END;".
 */
export class StatementAssembler {
  private lines: string[] = [];
  /** Whether the statement being joined is a trigger: decided by its first line, once. */
  private trigger = false;

  push(line: string): string | null {
    if (line.length === 0 && this.lines.length === 0) return null;
    if (this.lines.length === 0) this.trigger = isTriggerStart(line);
    this.lines.push(line);
    const ended = this.trigger ? /\bEND;$/i.test(line) : line.endsWith(";");
    if (!ended) return null;
    const statement = this.lines.join("\n");
    this.lines = [];
    return statement;
  }

  rest(): string | null {
    const statement = this.lines.join("\n");
    this.lines = [];
    return statement.trim().length > 0 ? statement : null;
  }
}

export interface PositionedStatement {
  sql: string;
  /** Where the statement after this one starts (or the object's end). */
  next: StatementPosition;
}

/**
 * The statements of one object from `from` on, each with the position after it. Given an etag,
 * the object is read only if it is still the one a check recorded (`onlyIf`), so what is applied is
 * exactly what was checked by sha256, without hashing it again. Reading starts at `from.frame` (an R2 range),
 * one frame decompressed at a time.
 */
export async function* objectStatements(
  ctx: AppContext,
  object: ManifestObject,
  etag: string | null,
  from: StatementPosition,
): AsyncGenerator<PositionedStatement> {
  if (from.frame >= object.frames.length) return;
  const start = object.frames.slice(0, from.frame).reduce((sum, length) => sum + length, 0);
  const stored = await ctx.backups.get(object.key, {
    range: { offset: start },
    ...(etag === null ? {} : { onlyIf: { etagMatches: etag } }),
  });
  if (!stored) throw new KeeperError("UNPROCESSABLE", `Backup object ${object.key} is missing`);
  if (!("body" in stored))
    throw new KeeperError(
      "UNPROCESSABLE",
      `Backup object ${object.key} changed after it was checked; nothing more is applied from it`,
    );
  const reader = stored.body.getReader();
  try {
    yield* statementsFrom(reader, object, from);
  } finally {
    // A step that stops mid-object leaves the rest of the range unread.
    await reader.cancel().catch(() => {});
  }
}

async function* statementsFrom(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  object: ManifestObject,
  from: StatementPosition,
): AsyncGenerator<PositionedStatement> {
  let pending: Uint8Array = new Uint8Array(0);
  const decoder = new TextDecoder();
  const assembler = new StatementAssembler();
  // Bytes after the last newline so far: the start of a line the next frame ends.
  let carry: Uint8Array = new Uint8Array(0);
  for (let frame = from.frame; frame < object.frames.length; frame++) {
    while (pending.byteLength < object.frames[frame]) {
      const { done, value } = await reader.read();
      if (done) throw new KeeperError("UNPROCESSABLE", `Backup object ${object.key} is shorter than its manifest says`);
      pending = joinBytes([pending, value]);
    }
    const sql = new Uint8Array(zstdDecompressSync(pending.subarray(0, object.frames[frame])));
    pending = pending.subarray(object.frames[frame]);
    const start = frame === from.frame ? from.offset : 0;
    const text = carry.byteLength > 0 ? joinBytes([carry, sql.subarray(start)]) : sql.subarray(start);
    // Where text[0] is in this frame's bytes (before its start when a line carried over).
    const base = start - carry.byteLength;
    const last = text.lastIndexOf(NEWLINE);
    if (last === -1) {
      carry = text.slice();
      continue;
    }
    // One decode for all complete lines: a newline byte is never part of a multi-byte character,
    // so the n-th line of the text ends at the n-th newline byte.
    let newline = -1;
    for (const line of decoder.decode(text.subarray(0, last)).split("\n")) {
      newline = text.indexOf(NEWLINE, newline + 1);
      const statement = assembler.push(line);
      if (statement === null) continue;
      const end = base + newline + 1;
      yield { sql: statement, next: end < sql.byteLength ? { frame, offset: end } : { frame: frame + 1, offset: 0 } };
    }
    carry = text.slice(last + 1);
  }
  if (carry.byteLength > 0) assembler.push(decoder.decode(carry));
  const rest = assembler.rest();
  if (rest !== null) yield { sql: rest, next: { frame: object.frames.length, offset: 0 } };
}

function joinBytes(parts: Uint8Array[]): Uint8Array {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return joined;
}
