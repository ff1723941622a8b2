import { auditStatement } from "../platform/audit";
import type { AppContext } from "../platform/context";

/**
 * The original design's VACUUM/ANALYZE. D1 refuses both; `PRAGMA optimize` is what it allows
 * (refreshes query-planner statistics where useful). D1 compacts storage itself, so "after" may
 * equal "before". Sizes come from the `size_after` D1 reports with every statement.
 */
export async function optimizeDatabase({ ctx, input }: { ctx: AppContext; input: { dryRun: boolean } }) {
  const before = await ctx.d1.prepare("SELECT 1 AS x").run();
  const sizeBefore = before.meta.size_after ?? null;
  if (input.dryRun) return { dry_run: true, size_before: sizeBefore, size_after: sizeBefore };
  const [optimized] = await ctx.d1.batch([
    ctx.d1.prepare("PRAGMA optimize"),
    auditStatement(ctx, { action: "archival.optimize", detail: { size_before: sizeBefore } }),
  ]);
  return { dry_run: false, size_before: sizeBefore, size_after: optimized.meta.size_after ?? null };
}
