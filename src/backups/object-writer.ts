import { createHash } from "node:crypto";

/** R2 multipart: every part but the last must have the same size, at least 5 MiB. */
export const PART_BYTES = 8 * 1024 * 1024;

/**
 * Writes one R2 object from a sequence of chunks without holding it in memory: bytes collect into
 * an 8 MiB part, which is uploaded as soon as it is full. A small object is a single `put`. The
 * sha256 of the whole object is computed on the way and, for a single put, checked by R2 itself.
 * Any failure aborts the multipart upload, so a failed backup leaves no half object behind.
 */
export class ObjectWriter {
  readonly key: string;
  private readonly bucket: R2Bucket;
  private readonly hash = createHash("sha256");
  private upload: R2MultipartUpload | null = null;
  private readonly parts: R2UploadedPart[] = [];
  private readonly partBytes: number;
  private buffer: Uint8Array;
  private filled = 0;
  bytes = 0;
  /** Compressed length of every frame written, so a reader can decompress frame by frame. */
  readonly frames: number[] = [];

  constructor(bucket: R2Bucket, key: string, partBytes = PART_BYTES) {
    this.bucket = bucket;
    this.key = key;
    this.partBytes = partBytes;
    this.buffer = new Uint8Array(partBytes);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    this.frames.push(chunk.byteLength);
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(this.partBytes - this.filled, chunk.byteLength - offset);
      this.buffer.set(chunk.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.partBytes) await this.flushPart();
    }
  }

  private async flushPart(): Promise<void> {
    try {
      this.upload ??= await this.bucket.createMultipartUpload(this.key, { httpMetadata: { contentType: "application/zstd" } });
      const part = await this.upload.uploadPart(this.parts.length + 1, this.buffer.slice(0, this.filled));
      this.parts.push(part);
      this.filled = 0;
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  /** Completes the object; returns its sha256 (hex). */
  async finish(): Promise<string> {
    const sha256 = this.hash.digest("hex");
    try {
      if (!this.upload) {
        await this.bucket.put(this.key, this.buffer.slice(0, this.filled), {
          sha256,
          httpMetadata: { contentType: "application/zstd" },
        });
      } else {
        if (this.filled > 0) await this.flushPart();
        await this.upload.complete(this.parts);
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
    return sha256;
  }

  async abort(): Promise<void> {
    if (!this.upload) return;
    const upload = this.upload;
    this.upload = null;
    try {
      await upload.abort();
    } catch {
      // the upload may already be gone; nothing more to undo
    }
  }
}
