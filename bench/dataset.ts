import { execFileSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import path from "node:path";
import { applyLocalMigrations, localDatabaseFile, parseFlags, root } from "./harness";

/**
 * Deterministic benchmark dataset: the same flags always give byte-identical rows. It writes
 * straight into the SQLite file behind a local D1 (`--persist-to` state of wrangler dev) with the
 * sqlite3 CLI, because inserting a million rows through the Worker would take longer than the
 * benchmarks themselves. The rows satisfy every constraint of the schema, and the context `data`
 * JSON follows the shapes the API validates.
 *
 *   npx tsx bench/dataset.ts --persist-to bench/.state/reference            (20k videos, 1M context, 500k memory)
 *   npx tsx bench/dataset.ts --persist-to bench/.state/small --videos 2000 --context 100000 --memory 50000
 */

export interface DatasetSize {
  videos: number;
  context: number;
  memory: number;
  conversations: number;
  messages: number;
  /** Every n-th video is soft-deleted (a day after creation), so retention has work to do. 0 = none. */
  deletedEvery: number;
}

export const referenceSize: DatasetSize = {
  videos: 20_000,
  context: 1_000_000,
  memory: 500_000,
  conversations: 0,
  messages: 0,
  deletedEvery: 50,
};

/** 2026-01-01T00:00:00Z: every generated time is an offset from here, so data is old relative to "now". */
const base = Date.UTC(2026, 0, 1);
const filler =
  "frame analysis summary with detected regions, colour histogram, motion vectors and a short caption for the moment";

export function datasetSql(size: DatasetSize): string {
  const range = (name: string, count: number) =>
    `WITH RECURSIVE ${name}(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM ${name} WHERE i + 1 < ${count})`;
  const statements = ["PRAGMA synchronous = OFF;", "BEGIN;"];
  if (size.videos > 0) {
    statements.push(`${range("n", size.videos)}
INSERT INTO videos (id, filename, file_path, duration, category, tags, metadata, created_at, updated_at, deleted_at)
SELECT printf('vid-%07d', i), printf('video-%07d.mp4', i), printf('/media/%03d/video-%07d.mp4', i % 997, i),
  30.0 + (i * 7919) % 3600,
  CASE i % 4 WHEN 0 THEN 'lecture' WHEN 1 THEN 'surveillance' WHEN 2 THEN 'sports' ELSE NULL END,
  json_array('bench', printf('batch-%d', i % 10)),
  json_object('fps', 30, 'width', 1920, 'height', 1080, 'codec', 'h264'),
  ${base} + i * 60000, ${base} + i * 60000,
  CASE WHEN ${size.deletedEvery} > 0 AND i % ${Math.max(size.deletedEvery, 1)} = ${Math.max(size.deletedEvery, 1) - 1}
       THEN ${base} + i * 60000 + 86400000 ELSE NULL END
FROM n;`);
  }
  if (size.context > 0 && size.videos > 0) {
    // Row i belongs to video i % V at second 2 * (i / V): (video, type, timestamp, tool) never repeats.
    statements.push(`${range("n", size.context)}
INSERT INTO video_context (video_id, context_type, tool_name, timestamp, data, confidence, created_at, updated_at)
SELECT printf('vid-%07d', i % ${size.videos}),
  CASE (i / ${size.videos}) % 4 WHEN 0 THEN 'scene' WHEN 1 THEN 'objects' WHEN 2 THEN 'transcript' ELSE 'ocr' END,
  printf('tool-%d', i % 3),
  2.0 * (i / ${size.videos}),
  CASE (i / ${size.videos}) % 4
    WHEN 0 THEN json_object('description', printf('scene %d: %s', i, '${filler}'), 'shot', i % 40, 'lighting', 'indoor')
    WHEN 1 THEN json_object('objects', json_array(
      json_object('label', 'person', 'confidence', 0.91, 'box', json_array(10, 20, 110, 220)),
      json_object('label', 'car', 'confidence', 0.77, 'box', json_array(300, 40, 180, 90))), 'note', substr('${filler}', 1, 80))
    WHEN 2 THEN json_object('text', printf('transcript %d: %s', i, '${filler}'), 'language', 'en', 'end', 2.0 * (i / ${size.videos}) + 2)
    ELSE json_object('text', printf('ocr %d: %s', i, substr('${filler}', 1, 150)), 'lines', 3)
  END,
  0.5 + (i % 50) / 100.0,
  ${base} + i * 1000, ${base} + i * 1000
FROM n;`);
  }
  if (size.memory > 0 && size.videos > 0) {
    statements.push(`${range("n", size.memory)}
INSERT INTO memory (video_id, timestamp, content, metadata, created_at)
SELECT printf('vid-%07d', i % ${size.videos}), 3.0 * (i / ${size.videos}) + 0.5,
  printf('memory %d: the presenter points at the diagram while a question is asked from the back row', i),
  json_object('kind', CASE i % 3 WHEN 0 THEN 'observation' WHEN 1 THEN 'question' ELSE 'summary' END),
  ${base} + i * 1000
FROM n;`);
  }
  if (size.conversations > 0 && size.videos > 0) {
    statements.push(`${range("n", size.conversations)}
INSERT INTO conversations (id, video_id, title, created_at, updated_at)
SELECT printf('conv-%07d', i), printf('vid-%07d', i % ${size.videos}), printf('conversation %d', i),
  ${base} + i * 1000, ${base} + i * 1000
FROM n;`);
    if (size.messages > 0) {
      statements.push(`${range("n", size.messages)}
INSERT INTO messages (conversation_id, role, content, metadata, created_at)
SELECT printf('conv-%07d', i % ${size.conversations}), CASE i % 2 WHEN 0 THEN 'user' ELSE 'assistant' END,
  printf('message %d: what happens at this point in the video, and who is speaking?', i), NULL,
  ${base} + i * 1000
FROM n;`);
    }
  }
  statements.push("COMMIT;");
  return statements.join("\n");
}

/** Applies migrations into `persistTo` (wiped first when `fresh`) and fills DB; returns the SQLite file. */
export function generateDataset(persistTo: string, size: DatasetSize, options: { fresh?: boolean } = {}): string {
  if (options.fresh) rmSync(persistTo, { recursive: true, force: true });
  applyLocalMigrations(persistTo);
  const file = localDatabaseFile(persistTo);
  const existing = Number(execFileSync("sqlite3", [file, "SELECT count(*) FROM videos"], { encoding: "utf8" }).trim());
  if (existing > 0) throw new Error(`${file} already holds ${existing} videos; pass --fresh to start over`);
  execFileSync("sqlite3", [file], { input: datasetSql(size), stdio: ["pipe", "ignore", "inherit"], maxBuffer: 1 << 26 });
  return file;
}

if (import.meta.main) {
  const flags = parseFlags(process.argv.slice(2), {
    "persist-to": path.join(root, "bench/.state/reference"),
    videos: String(referenceSize.videos),
    context: String(referenceSize.context),
    memory: String(referenceSize.memory),
    conversations: String(referenceSize.conversations),
    messages: String(referenceSize.messages),
    "deleted-every": String(referenceSize.deletedEvery),
    fresh: "false",
  });
  const size: DatasetSize = {
    videos: Number(flags.videos),
    context: Number(flags.context),
    memory: Number(flags.memory),
    conversations: Number(flags.conversations),
    messages: Number(flags.messages),
    deletedEvery: Number(flags["deleted-every"]),
  };
  for (const [key, value] of Object.entries(size)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${key} must be a whole number >= 0`);
  }
  const started = performance.now();
  const file = generateDataset(path.resolve(flags["persist-to"]), size, { fresh: flags.fresh !== "false" });
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ file, ...size, bytes: statSync(file).size, seconds: Math.round(seconds * 10) / 10 }));
}
