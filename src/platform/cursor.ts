import { KeeperError } from "./errors";

/**
 * Opaque keyset-pagination cursors: base64url JSON of the last row's sort key. Opaque so clients
 * cannot build them, validated on the way in so a forged one is a 400, not a 500.
 */
export function encodeCursor(key: readonly (string | number | null)[]): string {
  const bytes = new TextEncoder().encode(JSON.stringify(key));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");
}

export function decodeCursor<T extends readonly unknown[]>(cursor: string, guard: (value: unknown) => value is T): T {
  try {
    const padded = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const binary = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
    const value: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (ch) => ch.charCodeAt(0))));
    if (guard(value)) return value;
  } catch {
    // fall through to the uniform error below
  }
  throw new KeeperError("BAD_REQUEST", "The cursor is not one this API issued", {
    errors: [{ path: "query.cursor", message: "invalid cursor" }],
  });
}

export const isNumberStringPair = (value: unknown): value is [number, string] =>
  Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && typeof value[1] === "string";

export const isNumberNumberPair = (value: unknown): value is [number, number] =>
  Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && Number.isSafeInteger(value[1]);

export const isSingleNumber = (value: unknown): value is [number] =>
  Array.isArray(value) && value.length === 1 && Number.isSafeInteger(value[0]);
