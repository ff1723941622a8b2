import { z } from "zod";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";

/**
 * The remote safety net: before keeper changes the schema of the remote database it asks the
 * Cloudflare API for the current D1 Time Travel bookmark, so the operator can restore to exactly
 * the moment before (`wrangler d1 time-travel restore <db> --bookmark=<b>`). Needs the secrets
 * CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN (D1 Read) and the var D1_DATABASE_ID.
 */
export type Bookmark = { taken: true; bookmark: string; database_id: string } | { taken: false; reason: string };

const settingsSchema = z.object({
  CLOUDFLARE_ACCOUNT_ID: z
    .string()
    .trim()
    .regex(/^[0-9a-f]{32}$/i, "a 32-character account id")
    .optional(),
  CLOUDFLARE_API_TOKEN: z.string().trim().min(1).optional(),
  D1_DATABASE_ID: z.string().trim().uuid("the database's UUID").optional(),
});

const bookmarkResponse = z.object({
  success: z.boolean(),
  result: z
    .object({ bookmark: z.string().min(1) })
    .nullable()
    .optional(),
  errors: z.array(z.object({ code: z.number().optional(), message: z.string() })).optional(),
});

const emptyToUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);

/** How a schema change's audit row records the bookmark and any drift it was forced past. */
export function bookmarkAuditFields(bookmark: Bookmark, forcedPastDrift: { kind: string; name: string }[]) {
  return {
    bookmark: bookmark.taken ? bookmark.bookmark : null,
    bookmark_note: bookmark.taken ? null : bookmark.reason,
    forced_past_drift: forcedPastDrift.map((entry) => `${entry.kind} ${entry.name}`),
  };
}

export async function takeTimeTravelBookmark(ctx: AppContext): Promise<Bookmark> {
  const env = ctx.env as unknown as Record<string, unknown>;
  const parsed = settingsSchema.safeParse({
    CLOUDFLARE_ACCOUNT_ID: emptyToUndefined(env.CLOUDFLARE_ACCOUNT_ID),
    CLOUDFLARE_API_TOKEN: emptyToUndefined(env.CLOUDFLARE_API_TOKEN),
    D1_DATABASE_ID: emptyToUndefined(env.D1_DATABASE_ID),
  });
  if (!parsed.success) {
    throw new KeeperError("INTERNAL", "The Time Travel settings are invalid; fix the secrets or vars", {
      errors: parsed.error.issues.map((issue) => ({ path: `env.${issue.path.join(".")}`, message: issue.message })),
    });
  }
  const { CLOUDFLARE_ACCOUNT_ID: account, CLOUDFLARE_API_TOKEN: token, D1_DATABASE_ID: database } = parsed.data;
  const missing = [!account && "CLOUDFLARE_ACCOUNT_ID", !token && "CLOUDFLARE_API_TOKEN", !database && "D1_DATABASE_ID"].filter(
    Boolean,
  );
  if (!account || !token || !database) {
    return { taken: false, reason: `no Time Travel bookmark taken: ${missing.join(", ")} not configured` };
  }
  const url = `https://api.cloudflare.com/client/v4/accounts/${account}/d1/database/${database}/time_travel/bookmark`;
  let response: Response;
  try {
    response = await ctx.fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  } catch (error) {
    throw new KeeperError("BAD_GATEWAY", "Could not reach the Cloudflare API for a Time Travel bookmark; nothing was changed", {
      cause: error,
    });
  }
  const body = bookmarkResponse.safeParse(await response.json().catch(() => null));
  if (!response.ok || !body.success || !body.data.success || !body.data.result) {
    const reason = body.success ? body.data.errors?.map((error) => error.message).join("; ") : undefined;
    throw new KeeperError(
      "BAD_GATEWAY",
      `The Cloudflare API did not return a Time Travel bookmark (HTTP ${response.status}${reason ? `: ${reason}` : ""}); nothing was changed`,
    );
  }
  return { taken: true, bookmark: body.data.result.bookmark, database_id: database };
}
