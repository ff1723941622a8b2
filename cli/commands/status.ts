import type { Command } from "commander";
import type { CommandContext } from "../keeper.ts";
import { emit, keyValues } from "../output.ts";

export function registerStatus(program: Command, context: CommandContext) {
  program
    .command("status")
    .description("Reachability of the Worker and D1, and the applied schema version")
    .action(async () => {
      const client = context.client();
      const status = await client.call(client.api.GET("/admin/status"));
      emit(context.output(), status, () =>
        keyValues([
          ["url", client.baseUrl],
          ["environment", status.environment],
          ["database", status.database.reachable ? `reachable (${status.database.round_trip_ms} ms)` : "unreachable"],
          ["size", status.database.size_bytes === null ? "unknown" : `${status.database.size_bytes} bytes`],
          [
            "schema version",
            status.schema.migrated ? `${status.schema.version} (${status.schema.applied_count} applied)` : "not migrated",
          ],
          ["last applied", status.schema.last_applied_at],
          [
            "pending",
            status.schema.ready
              ? "none: the schema matches this Worker"
              : [
                  status.schema.pending_count > 0
                    ? `${status.schema.pending_count} migrations pending (${status.schema.pending.join(", ")})`
                    : "",
                  status.schema.unknown_applied.length > 0
                    ? `applied but unknown to this Worker: ${status.schema.unknown_applied.join(", ")}`
                    : "",
                ]
                  .filter(Boolean)
                  .join("; ") + " — data routes answer 503; run keeper migrate apply",
          ],
          ["you are", `${status.principal.actor} [${status.principal.scopes.join(", ")}]`],
        ]),
      );
    });
}
