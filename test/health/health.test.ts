import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { MANIFEST_FORMAT, MANIFEST_NAME, type Manifest, manifestKey } from "../../src/backups/manifest";
import { sign } from "../../src/health/alerts";
import { growth } from "../../src/health/checks.service";
import { healthSnapshotJob } from "../../src/health/jobs";
import { monitorD1, normalizeStatement, QueryRecorder } from "../../src/health/monitor";
import { dispatchScheduled } from "../../src/maintenance/scheduled";
import { parseConfig } from "../../src/platform/config";
import { replacingMethod } from "../support/bindings";
import { seedJobRun, seedVideo } from "../support/factories";
import { call, tokens } from "../support/http";

const config = parseConfig(env as unknown as Record<string, unknown>);
const admin = { Authorization: `Bearer ${tokens.admin}` };

describe("query monitor", () => {
  it("records every statement shape with D1's meta, after the response", async () => {
    const video = await seedVideo();
    for (let i = 0; i < 3; i++)
      expect((await call("GET", `/v1/videos/${video.id}?include_deleted=true`, { token: "read" })).status).toBe(200);
    // The monitor flushes after each response (waitUntil): poll briefly rather than assume timing.
    let lookup: { statement: string; calls: number; rows_read: number } | undefined;
    let items: { statement: string; calls: number; rows_read: number }[] = [];
    for (let attempt = 0; attempt < 40 && (lookup?.calls ?? 0) < 3; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      items = (
        await (await call("GET", "/admin/health/queries?hours=1&limit=100", { token: "read" })).json<{ items: typeof items }>()
      ).items;
      lookup = items.find((item) => item.statement.includes('from "videos" where "videos"."id" = ?'));
    }
    expect(lookup?.calls, JSON.stringify(items.map((i) => i.statement))).toBeGreaterThanOrEqual(3);
    // Statements run through raw() (Drizzle's selects) carry no D1 meta; first/all/run do.
    const body = { context_type: "scene", tool_name: "monitor-test", timestamp: 1, data: { description: "x" } };
    expect((await call("POST", `/v1/videos/${video.id}/context`, { body })).status).toBe(201);
    let insert: { rows_written?: number } | undefined;
    for (let attempt = 0; attempt < 40 && !insert; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      const latest = (
        await (
          await call("GET", "/admin/health/queries?hours=1&limit=200", { token: "read" })
        ).json<{ items: ((typeof items)[number] & { rows_written: number })[] }>()
      ).items;
      insert = latest.find((item) => item.statement.startsWith("INSERT INTO video_context"));
    }
    expect(insert?.rows_written).toBeGreaterThanOrEqual(1);
    expect(items.some((item) => item.statement.includes("keeper_query_stats"))).toBe(false);
  });

  it("normalizes literals and placeholder lists", () => {
    expect(normalizeStatement("SELECT * FROM t WHERE a = 'x''y' AND b IN (?, ?, ?)  AND c = 42")).toBe(
      "SELECT * FROM t WHERE a = ? AND b IN (?…) AND c = ?",
    );
  });

  it("logs a planted slow query and a query that reads far more rows than it returns", async () => {
    const video = await seedVideo();
    const rows = Array.from({ length: 1500 }, (_, i) =>
      env.DB.prepare("INSERT INTO memory (video_id, timestamp, content, created_at) VALUES (?, ?, 'm', 1)").bind(video.id, i),
    );
    await env.DB.batch(rows);
    const recorder = new QueryRecorder(1);
    const monitored = monitorD1(env.DB, recorder);
    await monitored
      .prepare("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000) SELECT count(*) AS n FROM c")
      .first();
    // A threshold no query reaches, so the scan is logged for its width alone.
    const wideRecorder = new QueryRecorder(60_000);
    await monitorD1(env.DB, wideRecorder).prepare("SELECT id FROM memory WHERE content = 'never' LIMIT 1").all();
    await env.DB.batch([...recorder.statements(env.DB), ...wideRecorder.statements(env.DB)]);
    const log = await (await call("GET", "/admin/health/slow-queries?hours=1&limit=500", { token: "read" })).json<{
      items: { reason: string; statement: string }[];
    }>();
    expect(
      log.items.some((item) => item.reason === "slow" && item.statement.includes("WITH RECURSIVE")),
      JSON.stringify(log.items),
    ).toBe(true);
    expect(log.items.some((item) => item.reason === "wide" && item.statement.includes("content = ?"))).toBe(true);
  });
});

describe("report, checks and snapshot", () => {
  it("reports a score with every check, and the live checks answer", async () => {
    const report = await (await call("GET", "/admin/health", { token: "read" })).json<{
      score: number;
      status: string;
      checks: { name: string }[];
    }>();
    expect(report.checks.map((c) => c.name)).toEqual([
      "integrity",
      "foreign_keys",
      "orphaned_memory",
      "orphaned_context",
      "slow_queries",
      "backup_age",
      "failed_runs",
      "growth",
      "hot_query_scans",
      "api_rules",
      "schema",
    ]);
    const integrity = await (await call("GET", "/admin/health/integrity", { token: "read" })).json<{
      ok: boolean;
      quick_check: string[];
    }>();
    expect(integrity).toMatchObject({ ok: true, quick_check: ["ok"] });
    expect((await call("POST", "/admin/health/snapshot")).status).toBe(200);
    const indexes = await (await call("GET", "/admin/health/indexes", { token: "read" })).json<{
      indexes: { name: string }[];
      full_scans: number;
    }>();
    expect(indexes.indexes.map((i) => i.name)).toContain("idx_memory_video_timestamp");
    expect(indexes.full_scans).toBe(0);
    const binding = await (await call("GET", "/admin/health/binding", { token: "read" })).json<{ round_trip_ms: number }>();
    expect(binding.round_trip_ms).toBeGreaterThanOrEqual(0);
  });

  it("scores foreign-key violations recorded by the snapshot as the seed's orphan penalties", async () => {
    // D1 enforces foreign keys on every write (PRAGMA foreign_keys = OFF is ignored and deferred
    // checks fail at commit), so a violation cannot be planted in a live table; the snapshot row is
    // where foreign_key_check's findings land, and the report must score them.
    const at = Date.now() + 60_000;
    await env.DB.prepare(
      `INSERT INTO keeper_health_snapshots (at, size_bytes, row_counts, quick_check, foreign_key_violations) VALUES (?, 1, '{}', '["ok"]', '{"memory":2,"video_context":1}')`,
    )
      .bind(at)
      .run();
    const app = createApp({ now: () => new Date(at + 1000) });
    const report = await (await app.request("/admin/health", { headers: admin }, env)).json<{
      checks: { name: string; penalty: number }[];
    }>();
    const penalty = (name: string) => report.checks.find((check) => check.name === name)?.penalty;
    expect([penalty("orphaned_memory"), penalty("orphaned_context")]).toEqual([5, 5]);
  });

  it("growth math on fixed snapshots", () => {
    const day = 86_400_000;
    const points = [0, 1, 2, 3, 4, 5, 6].map((d) => ({ at: d * day, size_bytes: 1_000_000 + d * 100_000 }));
    const g = growth(points, 6 * day, 1_600_000, 3_600_000);
    expect(g.bytes_per_day_last_week).toBeCloseTo(100_000, 3);
    expect(g.days_until_limit).toBeCloseTo(20, 6);
    expect(growth(points.slice(0, 1), 6 * day, 1_000_000, 3_600_000).days_until_limit).toBeNull();
    const shrinking = points.map((p, i) => ({ ...p, size_bytes: 2_000_000 - i * 1000 }));
    expect(growth(shrinking, 6 * day, 1_994_000, 3_600_000).days_until_limit).toBeNull();
  });

  it("growth: the last day and the last week have their own slopes; the projection uses the week's", () => {
    const day = 86_400_000;
    // 100 kB a day for five and a half days, then a burst: 500 kB in the last half day.
    const points = [
      ...[0, 1, 2, 3, 4].map((d) => ({ at: d * day, size_bytes: 1_000_000 + d * 100_000 })),
      { at: 5.5 * day, size_bytes: 1_550_000 },
      { at: 6 * day, size_bytes: 2_050_000 },
    ];
    const g = growth(points, 6 * day, 2_050_000, 10_000_000);
    expect(g.bytes_per_day_last_day).toBeCloseTo(1_000_000, 3);
    expect(g.bytes_per_day_last_week).toBeGreaterThan(100_000);
    expect(g.bytes_per_day_last_week).toBeLessThan(500_000);
    expect(g.days_until_limit).toBeCloseTo((10_000_000 - 2_050_000) / (g.bytes_per_day_last_week ?? Number.NaN), 6);
  });
});

describe("/metrics", () => {
  it("is valid Prometheus text exposition", async () => {
    const res = await call("GET", "/metrics", { token: "read" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const families = new Map<string, string>();
    for (const line of text.trimEnd().split("\n")) {
      if (line.startsWith("# HELP ")) continue;
      const type = /^# TYPE (\S+) (gauge|counter|histogram|summary|untyped)$/.exec(line);
      if (type) {
        families.set(type[1], type[2]);
        continue;
      }
      const sample =
        /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$/.exec(line);
      expect(sample, line).not.toBeNull();
      const name = (sample as RegExpExecArray)[1];
      const family = name.replace(/_(bucket|sum|count)$/, "");
      expect(families.has(name) || families.get(family) === "histogram", `${name} has no TYPE`).toBe(true);
    }
    expect(families.get("keeper_health_score")).toBe("gauge");
    expect(families.get("keeper_query_duration_seconds")).toBe("histogram");
    expect(text).toMatch(/keeper_query_duration_seconds_bucket\{le="\+Inf"\} \d+/);
    for (const [name, type] of families) if (type === "counter") expect(name).toMatch(/_total$/);
    for (const [name] of families) expect(text, name).toContain(`# HELP ${name} `);
    expect((await call("GET", "/metrics", { token: null })).status).toBe(401);
  });
});

describe("/metrics counters and histogram", () => {
  const scrape = async () => {
    const text = await (await call("GET", "/metrics", { token: "read" })).text();
    const value = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
    };
    return { text, value };
  };
  const bucket = (le: string) => `keeper_query_duration_seconds_bucket{le="${le}"}`;
  const bounds = ["0.005", "0.025", "0.1", "0.25", "1", "+Inf"];

  it("are cumulative in seconds and never go down when old statistics are pruned", async () => {
    const before = await scrape();
    // Three 2-second queries (above every finite bound, and slow) and one of 3 ms, flushed as the monitor does.
    const recorder = new QueryRecorder(config.SLOW_QUERY_MS);
    for (let i = 0; i < 3; i++) recorder.record("SELECT planted_slow", { rows_read: 10, rows_written: 0 }, 2000, 1);
    recorder.record("SELECT planted_fast", { rows_read: 1, rows_written: 0 }, 3, 1);
    await env.DB.batch(recorder.statements(env.DB));

    const after = await scrape();
    const grew = (series: string) => after.value(series) - before.value(series);
    expect(grew("keeper_query_duration_seconds_count")).toBeGreaterThanOrEqual(4);
    expect(grew(bucket("+Inf")) - grew(bucket("1"))).toBeGreaterThanOrEqual(3);
    expect(grew(bucket("0.005"))).toBeGreaterThanOrEqual(1);
    expect(grew("keeper_query_duration_seconds_sum")).toBeGreaterThanOrEqual(6.003);
    expect(grew("keeper_queries_slow_total")).toBeGreaterThanOrEqual(3);
    expect(grew("keeper_query_rows_read_total")).toBeGreaterThanOrEqual(31);
    // Cumulative: each bucket holds the ones below it, and +Inf is the count.
    const cumulative = bounds.map((le) => after.value(bucket(le)));
    expect(cumulative).toEqual([...cumulative].sort((a, b) => a - b));
    expect(after.value(bucket("+Inf"))).toBe(after.value("keeper_query_duration_seconds_count"));

    // The hourly snapshot prunes statistics older than 30 days: from 2031, that is all of today's.
    await dispatchScheduled({
      controller: createScheduledController({ cron: "0 * * * *", scheduledTime: Date.UTC(2031, 0, 1) }),
      env: env as Env,
      config,
      jobs: { "0 * * * *": [healthSnapshotJob] },
      deps: { now: () => new Date(Date.UTC(2031, 0, 1)) },
    });
    expect(
      (await env.DB.prepare("SELECT count(*) AS n FROM keeper_query_stats WHERE statement = 'SELECT planted_slow'").first())?.n,
    ).toBe(0);
    const pruned = await scrape();
    for (const series of [...bounds.map(bucket), "keeper_query_duration_seconds_sum", "keeper_queries_slow_total"])
      expect(pruned.value(series), series).toBeGreaterThanOrEqual(after.value(series));
  });
});

describe("alerts", () => {
  it("fire once per worsening and per failed run, signed with HMAC-SHA256", async () => {
    const sent: { url: string; body: string; signature: string | null }[] = [];
    const recording = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      sent.push({ url: request.url, body: await request.text(), signature: request.headers.get("X-Keeper-Signature") });
      return new Response("ok");
    }) as typeof fetch;
    const alertEnv = {
      ...env,
      ALERT_WEBHOOK_URLS: "https://hooks.example/a,https://hooks.example/b",
      ALERT_WEBHOOK_SECRET: "shh-it-is-a-secret",
    };
    const run = (now: number) =>
      dispatchScheduled({
        controller: createScheduledController({ cron: "0 * * * *", scheduledTime: now }),
        env: alertEnv as Env,
        config,
        jobs: { "0 * * * *": [healthSnapshotJob] },
        deps: { fetch: recording, now: () => new Date(now) },
      });
    await run(Date.UTC(2031, 0, 1));
    const baseline = sent.length;
    // Make it worse: fail a job run (it also alerts on its own) and drop the backup (none yet → −10).
    await env.DB.prepare(
      "INSERT INTO keeper_job_runs (job, trigger, actor, status, started_at, finished_at, error) VALUES ('backups.create', 'cron', 'cron', 'failed', ?, ?, 'R2 down')",
    )
      .bind(Date.UTC(2031, 0, 1, 0, 30), Date.UTC(2031, 0, 1, 0, 31))
      .run();
    await run(Date.UTC(2031, 0, 1, 1));
    const fresh = sent.slice(baseline);
    const failedAlerts = fresh.filter((s) => JSON.parse(s.body).kind === "job_failed");
    expect(failedAlerts.map((s) => s.url).sort()).toEqual(["https://hooks.example/a", "https://hooks.example/b"]);
    await run(Date.UTC(2031, 0, 1, 2));
    expect(sent.slice(baseline + fresh.length).filter((s) => JSON.parse(s.body).kind === "job_failed")).toHaveLength(0);

    const { body, signature } = failedAlerts[0];
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature ?? "") ?? [];
    expect(v1).toBe(await sign("shh-it-is-a-secret", Number(t), body));
  });

  it("test-webhook retries with backoff and reports each URL", async () => {
    let calls = 0;
    const flaky = (async () => {
      calls++;
      return new Response("nope", { status: calls < 3 ? 503 : 200 });
    }) as typeof fetch;
    const app = createApp({ fetch: flaky });
    const res = await app.request(
      "/admin/health/test-webhook",
      { method: "POST", headers: admin },
      { ...env, ALERT_WEBHOOK_URLS: "https://hooks.example/x" },
    );
    const result = await res.json<{ urls: number; results: { ok: boolean; attempts: number }[] }>();
    expect(result.urls).toBe(1);
    expect(result.results[0]).toMatchObject({ ok: true, attempts: 3 });
  }, 20_000);
});

/** A backup as the catalog sees it: a manifest in R2 (of no tables, or naming an object that is not there). */
async function storeManifest(id: string, objects: Manifest["objects"] = []) {
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    id,
    created_at: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T00:00:00.000Z`,
    finished_at: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T00:01:00.000Z`,
    duration_ms: 60_000,
    invocations: 1,
    schema_version: null,
    bookmark: { taken: false, reason: "not configured" },
    compression: "zstd",
    tables: [],
    objects,
    totals: { rows: 1234, bytes: 2 * 1024 * 1024, sql_bytes: 4 * 1024 * 1024 },
    excluded_tables: [],
    restore_hint: "",
  };
  await env.BACKUPS.put(manifestKey(id), JSON.stringify(manifest));
}

describe("dashboard", () => {
  it("shows running and recent long jobs with a progress bar and their instance, and each backup's last verify", async () => {
    const started = Date.UTC(2030, 5, 1, 12);
    const running = await seedJobRun({
      job: "backups.create",
      status: "running",
      startedAt: started,
      instanceId: "backup-20300601T120000Z-0badcafe",
      progress: { steps: 3, done: 250, total: 1000, unit: "rows", phase: "table videos" },
    });
    await seedJobRun({
      job: "retention.apply-policies",
      status: "succeeded",
      startedAt: started - 3_600_000,
      finishedAt: started - 3_000_000,
      instanceId: "retention-20300601",
      progress: { steps: 5, done: 40, total: null, unit: "items", phase: "done" },
    });
    const good = "20300601T000000Z-aaaa";
    const bad = "20300602T000000Z-bbbb";
    await storeManifest(good);
    const missing = {
      key: `backups/${bad}/videos-0001.sql.zst`,
      kind: "data" as const,
      table: null,
      rows: 0,
      bytes: 1,
      sql_bytes: 1,
      sha256: "0",
      frames: [1],
    };
    await storeManifest(bad, [missing]);
    expect((await call("POST", `/admin/backups/${good}/verify`)).status).toBe(200);
    expect((await call("POST", `/admin/backups/${bad}/verify`)).status).toBe(200);

    const html = await (await call("GET", "/admin/dashboard", { token: "read" })).text();
    const jobs = html.slice(html.indexOf('id="jobs"'));
    const row = (needle: string) => {
      const at = jobs.indexOf(needle);
      return jobs.slice(jobs.lastIndexOf("<tr", at), jobs.indexOf("</tr>", at));
    };
    const runningRow = row(`#${running}`);
    expect(runningRow).toContain("backups.create");
    expect(runningRow).toContain('aria-valuenow="250"');
    expect(runningRow).toContain('style="width:25.0%"');
    expect(runningRow).toContain("25% · 250 / 1000 rows · table videos · 3 steps");
    expect(runningRow).toContain("backup-20300601T120000Z-0badcafe");
    const finishedRow = row("retention-20300601");
    expect(finishedRow).toContain("40 items · done · 5 steps");
    expect(finishedRow).not.toContain('class="bar"');
    expect(jobs.indexOf(`#${running}`)).toBeLessThan(jobs.indexOf("retention-20300601"));

    const backups = html.slice(html.indexOf('id="backups"'), html.indexOf('id="jobs"'));
    const backupRow = (id: string) => backups.slice(backups.indexOf(id), backups.indexOf("</tr>", backups.indexOf(id)));
    expect(backupRow(good)).toMatch(/class="ok"[^>]*>verify ok at \d{4}-/);
    expect(backupRow(bad)).toMatch(/class="bad"[^>]*>verify failed \(1\) at \d{4}-/);
    expect(backupRow(bad)).toContain("is missing");
  });

  it("reads only the newest backups' manifests from R2, however many the bucket holds", async () => {
    const ids = Array.from(
      { length: 30 },
      (_, day) => `299001${String(day + 1).padStart(2, "0")}T000000Z-${(0xa000 + day).toString(16)}`,
    );
    for (const id of ids) await storeManifest(id);
    let manifestReads = 0;
    const counted = replacingMethod(env.BACKUPS, "get", (original) => (...args) => {
      if (String(args[0]).endsWith(`/${MANIFEST_NAME}`)) manifestReads++;
      return original(...args);
    });
    const res = await createApp().request(
      "/admin/dashboard",
      { headers: { Authorization: `Bearer ${tokens.read}` } },
      {
        ...env,
        BACKUPS: counted,
      },
    );
    expect(res.status).toBe(200);
    const html = await res.text();
    const backups = html.slice(html.indexOf('id="backups"'), html.indexOf('id="jobs"'));
    for (const id of ids.slice(-10)) expect(backups).toContain(id);
    expect(backups).not.toContain(ids[19]);
    expect(manifestReads).toBe(10);
    for (const id of ids) await env.BACKUPS.delete(manifestKey(id));
  });

  it("renders the score without JavaScript, and takes ?token= only in development", async () => {
    const res = await call("GET", "/admin/dashboard", { token: "read" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<span class="score" id="score"[^>]*>\d+<\/span>/);
    expect(html).not.toContain("<script");
    const app = createApp();
    expect((await app.request(`/admin/dashboard?token=${tokens.read}`, {}, env)).status).toBe(401);
    expect((await app.request(`/admin/dashboard?token=${tokens.read}`, {}, { ...env, KEEPER_ENV: "development" })).status).toBe(
      200,
    );
    expect((await app.request(`/admin/health?token=${tokens.read}`, {}, { ...env, KEEPER_ENV: "development" })).status).toBe(401);
  });

  it("shows each table's rows and its dump size in the newest backup", async () => {
    expect((await call("POST", "/admin/health/snapshot")).status).toBe(200);
    const data = (table: string, n: number, sqlBytes: number) => ({
      key: `backups/29990101T000000Z-cccc/000${n}-${table}.sql.zst`,
      kind: "data" as const,
      table,
      rows: 10,
      bytes: 100,
      sql_bytes: sqlBytes,
      sha256: "0",
      frames: [100],
    });
    // An older backup's sizes are not shown.
    await storeManifest("29980101T000000Z-dddd", [
      { ...data("videos", 1, 9_999_999), key: "backups/29980101T000000Z-dddd/0001-videos.sql.zst" },
    ]);
    await storeManifest("29990101T000000Z-cccc", [
      data("videos", 1, 1_572_864),
      data("videos", 2, 524_288),
      data("memory", 3, 2048),
    ]);
    const html = await (await call("GET", "/admin/dashboard", { token: "read" })).text();
    const tables = html.slice(html.indexOf('id="tables"'), html.indexOf('id="queries"'));
    const row = (name: string) =>
      tables.slice(tables.indexOf(`<td>${name}</td>`), tables.indexOf("</tr>", tables.indexOf(`<td>${name}</td>`)));
    expect(row("videos")).toMatch(/<td class="num">\d+<\/td><td class="num">2\.00 MB<\/td>/);
    expect(row("memory")).toContain("2.0 KB");
    expect(row("conversations")).toContain("–");
    expect(tables).toContain("the newest backup, 29990101T000000Z-cccc (2999-01-01 00:00 UTC)");
    for (const id of ["29980101T000000Z-dddd", "29990101T000000Z-cccc"]) await env.BACKUPS.delete(manifestKey(id));
  });
});
