import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";
import { KeeperError } from "../platform/errors";
import { ARCHIVE_PREFIX, type ArchiveManifest, readArchiveLines } from "./conversations-archive.service";

/**
 * Rebuilds keeper_archived_conversations from the manifests in R2, for when the index is lost
 * (a rollback to 0 and re-apply, a restored older backup) while the archives survive.
 *
 * A manifest names its conversations but not their video, message count or last activity, so each
 * archive object is read (and checked against the manifest's sha256) for those. A conversation
 * named by a manifest but present in D1 is not indexed: the archive run left it in D1 (it got a
 * message meanwhile) or it was restored since. A conversation found in several archives (restored,
 * then archived again) is indexed at its newest one. Entries already in the index are left alone.
 */

const MANIFEST_SUFFIX = ".manifest.json";
/** 14 rows × 7 columns per INSERT: under D1's 100 bound parameters. */
const ROWS_PER_INSERT = 14;

interface Candidate {
  conversationId: string;
  videoId: string;
  archiveKey: string;
  messageCount: number;
  lastActivityAt: number;
  archivedAt: number;
}

/** Every manifest key under the archive prefix, following R2's cursor (pages of at most 1000 keys). */
export async function listManifestKeys(ctx: AppContext, pageSize = 1000): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.backups.list({ prefix: ARCHIVE_PREFIX, cursor, limit: pageSize });
    for (const object of page.objects) if (object.key.endsWith(MANIFEST_SUFFIX)) keys.push(object.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

async function idsPresent(ctx: AppContext, table: "conversations" | "keeper_archived_conversations", ids: string[]) {
  const column = table === "conversations" ? "id" : "conversation_id";
  const present = new Set<string>();
  for (let start = 0; start < ids.length; start += 90) {
    const chunk = ids.slice(start, start + 90);
    const { results } = await ctx.d1
      .prepare(`SELECT ${column} AS id FROM ${table} WHERE ${column} IN (${chunk.map(() => "?").join(", ")})`)
      .bind(...chunk)
      .all<{ id: string }>();
    for (const row of results) present.add(row.id);
  }
  return present;
}

export async function reindexArchives({ ctx, input }: { ctx: AppContext; input: { dryRun: boolean } }) {
  const manifestKeys = await listManifestKeys(ctx);
  const newest = new Map<string, Candidate>();
  const unreadable: { manifest: string; reason: string }[] = [];
  for (const manifestKey of manifestKeys) {
    const archiveKey = manifestKey.slice(0, -MANIFEST_SUFFIX.length);
    try {
      const manifestObject = await ctx.backups.get(manifestKey);
      if (!manifestObject) throw new KeeperError("NOT_FOUND", `Manifest ${manifestKey} vanished while listing`);
      const manifest = (await manifestObject.json()) as ArchiveManifest;
      const archivedAt = Date.parse(manifest.created_at);
      const named = new Set(manifest.conversation_ids);
      for (const { conversation, messages } of await readArchiveLines(ctx, archiveKey, manifest)) {
        if (!named.has(conversation.id)) continue;
        const seen = newest.get(conversation.id);
        if (seen && seen.archivedAt >= archivedAt) continue;
        newest.set(conversation.id, {
          conversationId: conversation.id,
          videoId: conversation.video_id,
          archiveKey,
          messageCount: messages.length,
          lastActivityAt: conversation.updated_at,
          archivedAt,
        });
      }
    } catch (error) {
      // One damaged archive must not keep the others out of the index; it is reported instead.
      unreadable.push({ manifest: manifestKey, reason: error instanceof Error ? error.message : String(error) });
    }
  }

  const ids = [...newest.keys()];
  const indexed = await idsPresent(ctx, "keeper_archived_conversations", ids);
  const inD1 = await idsPresent(ctx, "conversations", ids);
  const missing = ids
    .filter((id) => !indexed.has(id) && !inD1.has(id))
    .sort()
    .map((id) => newest.get(id) as Candidate);

  if (!input.dryRun && missing.length > 0) {
    const statements: D1PreparedStatement[] = [];
    for (let start = 0; start < missing.length; start += ROWS_PER_INSERT) {
      const chunk = missing.slice(start, start + ROWS_PER_INSERT);
      // DO NOTHING: a row indexed meanwhile (by an archive run) is newer than what a manifest says.
      statements.push(
        ctx.d1
          .prepare(
            `INSERT INTO keeper_archived_conversations (conversation_id, video_id, archive_key, message_count, last_activity_at, archived_at, restored_at)
             VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, ?, NULL)").join(", ")} ON CONFLICT (conversation_id) DO NOTHING`,
          )
          .bind(
            ...chunk.flatMap((c) => [c.conversationId, c.videoId, c.archiveKey, c.messageCount, c.lastActivityAt, c.archivedAt]),
          ),
      );
    }
    statements.push(
      auditStatement(ctx, {
        action: "archival.reindex",
        target: ARCHIVE_PREFIX,
        detail: { manifests: manifestKeys.length, inserted: missing.length, unreadable: unreadable.length },
      }),
    );
    await ctx.d1.batch(statements);
  }

  const entries = missing.map((c) => ({
    conversation_id: c.conversationId,
    video_id: c.videoId,
    archive_key: c.archiveKey,
    message_count: c.messageCount,
    last_activity_at: new Date(c.lastActivityAt).toISOString(),
    archived_at: new Date(c.archivedAt).toISOString(),
  }));
  return {
    dryRun: input.dryRun,
    manifests: manifestKeys.length,
    inserted: entries,
    already_indexed: indexed.size,
    in_d1: [...inD1].filter((id) => !indexed.has(id)).length,
    unreadable,
  };
}
