import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAscii, utf8Bytes } from "../../src/backups/utf8-bytes";

const encoded = (text: string) => new TextEncoder().encode(text).byteLength;

describe("UTF-8 lengths counted without encoding", () => {
  it("count what TextEncoder writes, lone surrogates included", () => {
    expect(utf8Bytes("plain")).toBe(5);
    expect(utf8Bytes("日本語")).toBe(9);
    expect(utf8Bytes("🎬")).toBe(4);
    expect(utf8Bytes("\ud800")).toBe(3);
    expect(utf8Bytes("a\u0000b")).toBe(3);
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        expect(utf8Bytes(text)).toBe(encoded(text));
        expect(isAscii(text)).toBe([...text].every((character) => character.charCodeAt(0) < 0x80));
      }),
      { numRuns: 2000 },
    );
  });
});
