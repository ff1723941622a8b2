import type { Command } from "commander";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues } from "../output.ts";

interface Status {
  environment: string;
  time: string;
  database: { reachable: boolean; round_trip_ms: number; size_bytes: number | null; served_by_region: string | null };
  schema: { migrated: boolean; version: string | null; applied_count: number; last_applied_at: string | null };
  principal: { actor: string; scopes: string[] };
}

export function registerStatus(program: Command, context: CommandContext) {
  program
    .command("status")
    .description("Reachability of the Worker and D1, and the applied schema version")
    .action(async () => {
      const status = await context.client().request<Status>("GET", "/admin/status");
      emit(context.output(), status, () =>
        keyValues([
          ["url", context.client().baseUrl],
          ["environment", status.environment],
          ["database", status.database.reachable ? `reachable (${status.database.round_trip_ms} ms)` : "unreachable"],
          ["size", status.database.size_bytes === null ? "unknown" : `${status.database.size_bytes} bytes`],
          [
            "schema version",
            status.schema.migrated ? `${status.schema.version} (${status.schema.applied_count} applied)` : "not migrated",
          ],
          ["last applied", status.schema.last_applied_at],
          ["you are", `${status.principal.actor} [${status.principal.scopes.join(", ")}]`],
        ]),
      );
    });
}
