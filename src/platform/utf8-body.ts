import { createMiddleware } from "hono/factory";
import type { KeeperEnv } from "./context";
import { KeeperError } from "./errors";

/** Byte offset of the first byte that does not continue a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index];
    const length =
      lead < 0x80
        ? 1
        : lead >= 0xc2 && lead <= 0xdf
          ? 2
          : lead >= 0xe0 && lead <= 0xef
            ? 3
            : lead >= 0xf0 && lead <= 0xf4
              ? 4
              : 0;
    if (length === 0 || index + length > bytes.length) return index;
    for (let offset = 1; offset < length; offset++) if ((bytes[index + offset] & 0xc0) !== 0x80) return index;
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    const second = bytes[index + 1];
    if (
      (lead === 0xe0 && second < 0xa0) ||
      (lead === 0xed && second > 0x9f) ||
      (lead === 0xf0 && second < 0x90) ||
      (lead === 0xf4 && second > 0x8f)
    )
      return index;
    index += length;
  }
  return -1;
}

/** The JSON members (dotted paths) whose text holds `marker`, found with an explicit stack. */
function pathsHolding(value: unknown, marker: string): string[] {
  const found: string[] = [];
  const pending: { value: unknown; path: string[] }[] = [{ value, path: [] }];
  while (pending.length > 0 && found.length < 10) {
    const next = pending.pop() as { value: unknown; path: string[] };
    if (typeof next.value === "string") {
      if (next.value.includes(marker)) found.push(["body", ...next.path].join("."));
    } else if (next.value !== null && typeof next.value === "object") {
      for (const [key, child] of Object.entries(next.value)) {
        if (key.includes(marker)) found.push(["body", ...next.path, key].join("."));
        pending.push({ value: child, path: [...next.path, key] });
      }
    }
  }
  return found;
}

/** Valid UTF-8 decodes the same with and without `fatal`; a leading BOM is dropped, as Request.text() does. */
const utf8 = new TextDecoder();

/**
 * A JSON body must be valid UTF-8. Request.json() would silently replace bad bytes with U+FFFD and
 * store text the client never sent; this refuses it (400), naming the byte offset and the fields
 * that hold the bad bytes. A valid body's text is decoded here once and left in hono's body cache
 * for the JSON validator, which would otherwise build a Response around the cached bytes to decode
 * them again.
 */
export const requireUtf8Body = () =>
  createMiddleware<KeeperEnv>(async (c, next) => {
    if (!/json/i.test(c.req.header("Content-Type") ?? "") || c.req.method === "GET" || c.req.method === "HEAD") return next();
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const invalidAt = firstInvalidUtf8Byte(bytes);
    if (invalidAt >= 0) {
      let fields: string[] = [];
      try {
        fields = pathsHolding(JSON.parse(new TextDecoder().decode(bytes)), "\uFFFD");
      } catch {
        // Not JSON either: the byte offset is all there is to say.
      }
      const message = `not valid UTF-8 (first bad byte at offset ${invalidAt})`;
      throw new KeeperError("BAD_REQUEST", `The request body is ${message}`, {
        errors: (fields.length > 0 ? fields : ["body"]).map((path) => ({ path, message })),
      });
    }
    // hono keeps each body reading's promise under its method's name (typed as the method).
    (c.req.bodyCache as Record<string, Promise<unknown>>).text = Promise.resolve(utf8.decode(bytes));
    await next();
  });
