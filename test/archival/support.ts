import { env } from "cloudflare:workers";
import type { Principal } from "../../src/platform/auth";
import { parseConfig } from "../../src/platform/config";
import { type AppContext, createContext } from "../../src/platform/context";

export const DAY = 86_400_000;

const operator: Principal = { actor: "test-operator", scopes: ["read", "write", "admin"] };

/** A service context at a fixed (movable) time, optionally with a stand-in BACKUPS or MEDIA bucket. */
export function contextAt(now: number | (() => number), replace: Partial<Pick<AppContext, "backups" | "media">> = {}) {
  const clock = typeof now === "number" ? () => now : now;
  const ctx = createContext(
    env,
    parseConfig(env as unknown as Record<string, unknown>),
    { now: () => new Date(clock()) },
    {
      requestId: "test",
      principal: operator,
    },
  );
  return { ...ctx, ...replace };
}

/** A bucket that behaves like `bucket` until its k-th put (1-based), which throws. */
export function failingOnPut(bucket: R2Bucket, k: number): R2Bucket {
  let puts = 0;
  return new Proxy(bucket, {
    get(target, property) {
      if (property === "put") {
        return (...args: Parameters<R2Bucket["put"]>) => {
          puts++;
          if (puts === k) return Promise.reject(new Error(`simulated R2 failure on put #${k}`));
          return target.put(...args);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A bucket whose delete() always fails. */
export function failingOnDelete(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      if (property === "delete") return () => Promise.reject(new Error("simulated R2 delete failure"));
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

export async function seedMedia(videoId: string, names = ["source/a.mp4", "frames/1.jpg", "frames/2.jpg", "cache/x.json"]) {
  for (const name of names) await env.MEDIA.put(`videos/${videoId}/${name}`, `bytes of ${name}`);
  return names.map((name) => `videos/${videoId}/${name}`);
}

export async function countWhere(sql: string, ...binds: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...binds)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
