import { env } from "cloudflare:workers";

/**
 * Seed rows straight into D1 with unique values per call, so tests never share or depend on
 * each other's data. Times are explicit so retention-style tests can place rows in the past.
 */
let sequence = 0;
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${(sequence++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export interface VideoSeed {
  id?: string;
  filename?: string;
  filePath?: string;
  duration?: number;
  category?: string | null;
  tags?: string[] | null;
  createdAt?: number;
  deletedAt?: number | null;
}

export async function seedVideo(seed: VideoSeed = {}) {
  const id = seed.id ?? unique("vid");
  const createdAt = seed.createdAt ?? Date.now();
  await env.DB.prepare(
    `INSERT INTO videos (id, filename, file_path, duration, category, tags, metadata, created_at, updated_at, deleted_at)
     VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
  )
    .bind(
      id,
      seed.filename ?? `${id}.mp4`,
      seed.filePath ?? `/videos/${id}.mp4`,
      seed.duration ?? 120.5,
      seed.category ?? null,
      seed.tags ? JSON.stringify(seed.tags) : null,
      createdAt,
      createdAt,
      seed.deletedAt ?? null,
    )
    .run();
  return { id, createdAt };
}

export async function seedContext(
  videoId: string,
  seed: { contextType?: string; toolName?: string; timestamp?: number | null; data?: unknown } = {},
) {
  const at = Date.now();
  const row = await env.DB.prepare(
    `INSERT INTO video_context (video_id, context_type, tool_name, timestamp, data, confidence, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 0.9, ?, ?) RETURNING id`,
  )
    .bind(
      videoId,
      seed.contextType ?? "scene",
      seed.toolName ?? unique("tool"),
      seed.timestamp === undefined ? 1.5 : seed.timestamp,
      JSON.stringify(seed.data ?? { description: "a room" }),
      at,
      at,
    )
    .first<{ id: number }>();
  return row as { id: number };
}

export async function seedConversation(videoId: string, seed: { id?: string; updatedAt?: number; messages?: number } = {}) {
  const id = seed.id ?? unique("conv");
  const at = seed.updatedAt ?? Date.now();
  await env.DB.prepare("INSERT INTO conversations (id, video_id, title, created_at, updated_at) VALUES (?, ?, 'about it', ?, ?)")
    .bind(id, videoId, at, at)
    .run();
  for (let i = 0; i < (seed.messages ?? 0); i++) {
    await env.DB.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?, ?, ?, ?)")
      .bind(id, i % 2 === 0 ? "user" : "assistant", `message ${i}`, at)
      .run();
  }
  return { id };
}

export const uniqueId = unique;

/** Row counts of every app and ops table: "nothing changed" assertions compare two of these. */
export async function tableCounts(): Promise<Record<string, number>> {
  const tables = ["videos", "video_context", "memory", "conversations", "messages", "keeper_audit_log"];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>();
    counts[table] = row?.n ?? 0;
  }
  return counts;
}

/** Entries of the slow-query log (`reason: 'slow'`), one millisecond apart from `at`. */
export async function seedSlowQueries(at: number, count: number) {
  await env.DB.batch(
    Array.from({ length: count }, (_, i) =>
      env.DB.prepare(
        "INSERT INTO keeper_query_slow (at, statement, duration_ms, rows_read, rows_returned, reason) VALUES (?, ?, 150, 1, 1, 'slow')",
      ).bind(at + i, `select ${i} from videos`),
    ),
  );
}

/** A maintenance run row; `finishedAt` null for one still running. */
export async function seedJobRun(seed: {
  job: string;
  status: "running" | "succeeded" | "failed";
  startedAt: number;
  finishedAt?: number | null;
  error?: string | null;
  /** A long job's Workflow instance and the progress it last reported. */
  instanceId?: string;
  progress?: { steps: number; done: number; total: number | null; unit: string; phase: string };
}): Promise<number> {
  const row = await env.DB.prepare(
    "INSERT INTO keeper_job_runs (job, trigger, actor, status, started_at, finished_at, error, instance_id, progress) VALUES (?, 'cron', 'cron', ?, ?, ?, ?, ?, ?) RETURNING id",
  )
    .bind(
      seed.job,
      seed.status,
      seed.startedAt,
      seed.finishedAt ?? null,
      seed.error ?? null,
      seed.instanceId ?? null,
      seed.progress ? JSON.stringify(seed.progress) : null,
    )
    .first<{ id: number }>();
  if (!row) throw new Error("the job run was not inserted");
  return row.id;
}
