import { Buffer } from "node:buffer";

/**
 * UTF-8 length of `text`, counted natively without encoding it (a lone surrogate counts as the
 * three bytes of the U+FFFD that encoding writes for it).
 */
export const utf8Bytes = (text: string) => Buffer.byteLength(text, "utf8");

/** True when every code unit of `text` is ASCII: its UTF-8 length is then its length. */
export const isAscii = (text: string) => utf8Bytes(text) === text.length;
