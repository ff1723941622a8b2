import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { forgetSchemaReadiness, SCHEMA_READY_TTL_MS } from "../../src/migrations/readiness.service";
import { resetDatabase } from "../../src/migrations/scratch-schema";
import { tokens } from "../support/http";
import { applyLikeWrangler, latestShipped, ledgerNames, schemaText, shipped } from "./support";

/**
 * The HTTP door, on a database of its own: the app is handed an env whose DB (and SCRATCH_DB) are
 * this file's databases, so nothing here touches the shared test database.
 */
const db = () => env.MIGRATIONS_HTTP_DB;
const accountId = "0123456789abcdef0123456789abcdef";
const databaseId = "6f2c1b9e-3c5d-4e8f-9a0b-1c2d3e4f5a6b";

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field by the assertions
type Body = Record<string, any>;

interface Recorded {
  url: string;
  authorization: string | null;
}

function standInCloudflare(answer: () => Response) {
  const calls: Recorded[] = [];
  const fetchStandIn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    calls.push({ url: request.url, authorization: request.headers.get("Authorization") });
    return answer();
  }) as typeof fetch;
  return { calls, fetchStandIn };
}

async function send(
  method: string,
  path: string,
  options: { body?: unknown; token?: keyof typeof tokens | null; fetch?: typeof fetch; secrets?: boolean; now?: number } = {},
) {
  const at = options.now ?? Date.parse("2026-11-20T10:00:00.000Z");
  const app = createApp({ now: () => new Date(at), fetch: options.fetch });
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? "admin" : options.token;
  if (token) headers.Authorization = `Bearer ${tokens[token]}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const testEnv = {
    ...env,
    DB: db(),
    SCRATCH_DB: env.MIGRATIONS_ROUND_TRIP_DB,
    ...(options.secrets
      ? { CLOUDFLARE_ACCOUNT_ID: accountId, CLOUDFLARE_API_TOKEN: "cf-token-for-tests", D1_DATABASE_ID: databaseId }
      : {}),
  };
  const response = await app.fetch(
    new Request(`https://keeper.test${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    }),
    testEnv,
  );
  return {
    status: response.status,
    type: response.headers.get("Content-Type"),
    retryAfter: response.headers.get("Retry-After"),
    body: (await response.json()) as Body,
  };
}

async function auditRows() {
  const { results } = await db()
    .prepare("SELECT action, target, dry_run, detail FROM keeper_audit_log ORDER BY id")
    .all<{ action: string; target: string | null; dry_run: number; detail: string | null }>();
  return results.map((row) => ({ ...row, detail: row.detail ? (JSON.parse(row.detail) as Body) : null }));
}

beforeEach(async () => {
  // Rebuilding the database behind the Worker's back is a schema change made elsewhere: the
  // isolate's cached "ready" would be trusted for up to SCHEMA_READY_TTL_MS.
  forgetSchemaReadiness();
  await resetDatabase(db());
  await applyLikeWrangler(db(), env.TEST_MIGRATIONS.slice(0, 1));
});

describe("GET /admin/migrations", () => {
  it("reports version, applied with checksums, pending and drift (read scope)", async () => {
    const res = await send("GET", "/admin/migrations", { token: "read" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      current: { number: 0, name: "0000_initial_schema.sql" },
      pending: shipped.slice(1).map((name) => ({ number: Number.parseInt(name, 10), name, down_ready: true })),
      drift: [],
    });
    expect(res.body.applied[0].checksum).toMatchObject({ recorded_as: "first_seen", matches: true });
    expect((await send("GET", "/admin/migrations", { token: null })).status).toBe(401);
  });
});

describe("POST /admin/migrations/apply", () => {
  it("dry run prints the SQL; apply runs it with an audit row and says no bookmark was taken without the secrets", async () => {
    const dry = await send("POST", "/admin/migrations/apply", { body: { dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body.steps.map((step: { name: string }) => step.name)).toEqual(shipped.slice(1));
    expect(dry.body.steps[0]).toEqual({
      number: 1,
      name: "0001_add_video_tags.sql",
      statements: ["ALTER TABLE `videos` ADD `tags` text", "CREATE INDEX `idx_videos_tags` ON `videos` (`tags`)"],
    });
    expect(await ledgerNames(db())).toEqual(["0000_initial_schema.sql"]);

    const done = await send("POST", "/admin/migrations/apply", { body: {} });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      applied: shipped.slice(1),
      from: "0000_initial_schema.sql",
      to: latestShipped,
    });
    expect(done.body.bookmark).toEqual({
      taken: false,
      reason: "no Time Travel bookmark taken: CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN, D1_DATABASE_ID not configured",
    });
    expect(await auditRows()).toEqual(
      shipped.slice(1).map((target) =>
        expect.objectContaining({
          action: "migrations.apply",
          target,
          dry_run: 0,
          detail: expect.objectContaining({ bookmark: null, bookmark_note: done.body.bookmark.reason }),
        }),
      ),
    );
  });

  it("records the Time Travel bookmark from the Cloudflare API before applying, in the result and the audit row", async () => {
    const { calls, fetchStandIn } = standInCloudflare(() =>
      Response.json({
        success: true,
        errors: [],
        messages: [],
        result: { bookmark: "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683" },
      }),
    );
    const done = await send("POST", "/admin/migrations/apply", { body: {}, fetch: fetchStandIn, secrets: true });
    expect(done.status).toBe(200);
    expect(calls).toEqual([
      {
        url: `https://api.cloudflare.com/client/v4/accounts/${accountId}/d1/database/${databaseId}/time_travel/bookmark`,
        authorization: "Bearer cf-token-for-tests",
      },
    ]);
    expect(done.body.bookmark).toEqual({
      taken: true,
      bookmark: "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683",
      database_id: databaseId,
    });
    expect((await auditRows())[0].detail?.bookmark).toBe("00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683");
  });

  it("changes nothing when the Cloudflare API will not give a bookmark", async () => {
    const { fetchStandIn } = standInCloudflare(() =>
      Response.json(
        { success: false, errors: [{ code: 10000, message: "Authentication error" }], result: null },
        { status: 403 },
      ),
    );
    const before = await schemaText(db());
    const res = await send("POST", "/admin/migrations/apply", { body: {}, fetch: fetchStandIn, secrets: true });
    expect(res.status).toBe(502);
    expect(res.body.detail).toContain("Authentication error");
    expect(await schemaText(db())).toBe(before);
  });

  it("answers bad input with problem+json and changes nothing", async () => {
    const before = await schemaText(db());
    const cases: [unknown, number, string][] = [
      [{ to: 8999 }, 422, "no migration number 8999"],
      [{ to: -1 }, 422, "request does not match"],
      [{ to: 1.5 }, 422, "request does not match"],
      [{ to: "1" }, 422, "request does not match"],
      [{ version: 1 }, 422, "request does not match"],
    ];
    for (const [body, status, detail] of cases) {
      const res = await send("POST", "/admin/migrations/apply", { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.type).toBe("application/problem+json");
      expect(String(res.body.detail)).toContain(detail);
    }
    expect((await send("POST", "/admin/migrations/apply", { body: {}, token: "write" })).status).toBe(403);
    expect(await schemaText(db())).toBe(before);
  });
});

describe("POST /admin/migrations/rollback", () => {
  beforeEach(async () => {
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
  });

  it("requires confirm (428), then rolls back --to 0 with an audit row", async () => {
    const unconfirmed = await send("POST", "/admin/migrations/rollback", { body: { to: 0 } });
    expect(unconfirmed.status).toBe(428);
    expect(unconfirmed.type).toBe("application/problem+json");
    expect(await ledgerNames(db())).toEqual(shipped);

    const dry = await send("POST", "/admin/migrations/rollback", { body: { to: 0, dryRun: true } });
    expect(dry.status).toBe(200);
    expect(dry.body.steps.map((step: { name: string }) => step.name)).toEqual(shipped.slice(1).reverse());
    expect(dry.body.steps.at(-1)).toMatchObject({
      name: "0001_add_video_tags.sql",
      statements: [
        expect.stringMatching(/^-- Rollback of 0001.*\nDROP INDEX IF EXISTS `idx_videos_tags`$/s),
        "ALTER TABLE `videos` DROP COLUMN `tags`",
      ],
    });
    expect(await ledgerNames(db())).toEqual(shipped);

    const done = await send("POST", "/admin/migrations/rollback", { body: { to: 0, confirm: true } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ rolled_back: shipped.slice(1).reverse(), to: "0000_initial_schema.sql" });
    expect(await ledgerNames(db())).toEqual(["0000_initial_schema.sql"]);
    expect((await auditRows()).map((row) => [row.action, row.target])).toEqual(
      shipped
        .slice(1)
        .reverse()
        .map((name) => ["migrations.rollback", name]),
    );
  });

  it("refuses with 423 while another schema change holds the lock, and changes nothing", async () => {
    const holder = "schema:someone-else";
    await db()
      .prepare("INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES ('migrations', ?, 0, ?)")
      .bind(holder, Date.parse("2030-01-01"))
      .run();
    const before = await schemaText(db());
    const rollback = await send("POST", "/admin/migrations/rollback", { body: { to: 0, confirm: true } });
    expect(rollback.status).toBe(423);
    expect((await send("POST", "/admin/migrations/apply", { body: {} })).status).toBe(423);
    expect(await schemaText(db())).toBe(before);
    expect(await ledgerNames(db())).toEqual(shipped);
    // A dry run reads only, so it is not blocked.
    expect((await send("POST", "/admin/migrations/rollback", { body: { to: 0, dryRun: true } })).status).toBe(200);
  });

  it("two rollbacks at once: one runs, the other is refused, the ledger ends consistent", async () => {
    const [first, second] = await Promise.all([
      send("POST", "/admin/migrations/rollback", { body: { to: 0, confirm: true } }),
      send("POST", "/admin/migrations/rollback", { body: { to: 0, confirm: true } }),
    ]);
    // The loser is refused by the lock (423) or, had the winner already finished, finds nothing
    // left to roll back (409); it never runs a down file a second time.
    const statuses = [first.status, second.status].sort();
    expect(statuses[0]).toBe(200);
    expect([409, 423]).toContain(statuses[1]);
    expect(await ledgerNames(db())).toEqual(["0000_initial_schema.sql"]);
    const lease = await db().prepare("SELECT count(*) AS n FROM keeper_leases WHERE name = 'migrations'").first<{ n: number }>();
    expect(lease?.n).toBe(0);
  });

  it("answers bad input with problem+json and changes nothing", async () => {
    const before = await schemaText(db());
    const cases: [unknown, number][] = [
      [{ to: 8999, confirm: true }, 422],
      [{ to: -1, confirm: true }, 422],
      [{ confirm: "yes" }, 422],
      [{ to: 0 }, 428],
    ];
    for (const [body, status] of cases) {
      const res = await send("POST", "/admin/migrations/rollback", { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.type).toBe("application/problem+json");
    }
    expect((await send("POST", "/admin/migrations/rollback", { body: { to: 0, confirm: true }, token: "read" })).status).toBe(
      403,
    );
    expect(await schemaText(db())).toBe(before);
  });
});

describe("POST /admin/migrations/test and GET /admin/migrations/lint", () => {
  it("runs the round trip on SCRATCH_DB and reports per migration", async () => {
    const res = await send("POST", "/admin/migrations/test");
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.database).toBe("SCRATCH_DB");
    expect(res.body.migrations.map((entry: { name: string }) => entry.name)).toEqual(shipped);
    expect((await auditRows()).map((row) => row.action)).toEqual(["migrations.test"]);
    expect((await send("POST", "/admin/migrations/test", { token: "read" })).status).toBe(403);
  });

  it("refuses with 423 while another run holds the SCRATCH_DB lease, and releases its own", async () => {
    await db()
      .prepare("INSERT INTO keeper_leases (name, holder, acquired_at, expires_at) VALUES ('scratch-db', 'backups.drill:x', ?, ?)")
      .bind(Date.now(), Date.now() + 60_000)
      .run();
    const busy = await send("POST", "/admin/migrations/test");
    expect(busy.status).toBe(423);
    expect(busy.type).toBe("application/problem+json");
    await db().prepare("DELETE FROM keeper_leases").run();
    expect((await send("POST", "/admin/migrations/test")).status).toBe(200);
    expect(await db().prepare("SELECT count(*) AS n FROM keeper_leases").first()).toEqual({ n: 0 });
  });

  it("lints the bundled files", async () => {
    const res = await send("GET", "/admin/migrations/lint", { token: "read" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, files: shipped.length, errors: 0 });
  });
});

describe("schema readiness", () => {
  it("data routes answer 503 schema-not-ready while a migration is pending, admin routes keep working, and apply recovers", async () => {
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS.slice(0, -1));
    for (const [method, path, token, body] of [
      ["GET", "/v1/videos", "read", undefined],
      ["POST", "/v1/videos", "write", { filename: "f.mp4", file_path: "/f.mp4", duration: 1 }],
    ] as const) {
      const refused = await send(method, path, { token, body });
      expect(refused.status).toBe(503);
      expect(refused.type).toBe("application/problem+json");
      expect(refused.retryAfter).toBe("30");
      expect(refused.body).toMatchObject({
        type: "urn:d1-keeper:problem:schema-not-ready",
        pending: [latestShipped],
        unknown_applied: [],
      });
    }
    // Strangers learn nothing about the schema.
    expect((await send("GET", "/v1/videos", { token: null })).status).toBe(401);

    const status = await send("GET", "/admin/status", { token: "read" });
    expect(status.body.schema).toMatchObject({ ready: false, pending_count: 1, pending: [latestShipped] });
    const report = await send("GET", "/admin/health", { token: "read" });
    expect(report.status).toBe(200);
    expect(report.body.facts.pendingMigrations).toBe(1);
    expect(report.body.checks.find((check: Body) => check.name === "schema")).toMatchObject({ ok: false, penalty: 30 });

    expect((await send("POST", "/admin/migrations/apply", { body: {} })).status).toBe(200);
    expect((await send("GET", "/v1/videos", { token: "read" })).status).toBe(200);
    expect((await send("GET", "/admin/status", { token: "read" })).body.schema).toMatchObject({ ready: true, pending_count: 0 });
  });

  it("a rollback through this isolate answers 503 on the very next data request", async () => {
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    expect((await send("GET", "/v1/videos", { token: "read" })).status).toBe(200);
    const rollback = await send("POST", "/admin/migrations/rollback", { body: { confirm: true } });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(200);
    expect(rollback.body.rolled_back).toEqual([latestShipped]);
    // Same instant as the cached "ready": only the rollback's own invalidation can make this 503.
    const refused = await send("GET", "/v1/videos", { token: "read" });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ pending: [latestShipped] });
    expect((await send("POST", "/admin/migrations/apply", { body: {} })).status).toBe(200);
    expect((await send("GET", "/v1/videos", { token: "read" })).status).toBe(200);
  });

  it("a schema change made elsewhere is seen within SCHEMA_READY_TTL_MS; not ready is never cached", async () => {
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    const t0 = Date.parse("2026-11-21T10:00:00.000Z");
    expect((await send("GET", "/v1/videos", { token: "read", now: t0 })).status).toBe(200);
    // Another isolate (or wrangler) rolls the ledger back: this isolate does not hear of it.
    await db().prepare("DELETE FROM d1_migrations WHERE name = ?").bind(latestShipped).run();
    expect((await send("GET", "/v1/videos", { token: "read", now: t0 + SCHEMA_READY_TTL_MS - 1 })).status).toBe(200);
    expect((await send("GET", "/v1/videos", { token: "read", now: t0 + SCHEMA_READY_TTL_MS })).status).toBe(503);
    // A clock set back before the cached answer does not make it trusted again.
    expect((await send("GET", "/v1/videos", { token: "read", now: t0 - 1000 })).status).toBe(503);
    // Fixed elsewhere: the next request sees it, since only "ready" is kept.
    await db().prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(latestShipped).run();
    expect((await send("GET", "/v1/videos", { token: "read", now: t0 + SCHEMA_READY_TTL_MS })).status).toBe(200);
  });

  it("a database ahead of the Worker (a migration it does not know) is not ready either", async () => {
    await applyLikeWrangler(db(), env.TEST_MIGRATIONS);
    await db().prepare("INSERT INTO d1_migrations (name) VALUES ('9999_from_a_newer_worker.sql')").run();
    const refused = await send("GET", "/v1/videos", { token: "read" });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ pending: [], unknown_applied: ["9999_from_a_newer_worker.sql"] });
  });
});
