#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { type ApiClient, CliError, createClient } from "./client.ts";
import { registerArchive } from "./commands/archive.ts";
import { registerBackup } from "./commands/backup.ts";
import { registerHealth } from "./commands/health.ts";
import { registerMigrate } from "./commands/migrate.ts";
import { registerStatus } from "./commands/status.ts";
import { registerVideos } from "./commands/videos.ts";
import type { OutputOptions } from "./output.ts";

/** What every command group gets: the API client and output mode, resolved from global flags. */
export interface CommandContext {
  client(): ApiClient;
  output(): OutputOptions;
}

export function buildProgram(): Command {
  const program = new Command("keeper")
    .description("Operate a d1-keeper Worker over its HTTP API")
    .option("--url <url>", "the Worker's URL (env KEEPER_URL)", process.env.KEEPER_URL ?? "http://127.0.0.1:8787")
    .option("--token <token>", "bearer token (env KEEPER_TOKEN; local dev falls back to .dev.vars)")
    .option("--json", "print one JSON document on stdout", false)
    .showHelpAfterError()
    .exitOverride();
  const context: CommandContext = {
    client: () => {
      const { url, token } = program.opts<{ url: string; token?: string }>();
      try {
        new URL(url);
      } catch {
        throw new CliError(`--url is not a URL: ${url}`, 2);
      }
      return createClient({ url, token });
    },
    output: () => ({ json: program.opts<{ json: boolean }>().json }),
  };
  registerStatus(program, context);
  registerVideos(program, context);
  registerMigrate(program, context);
  registerArchive(program, context);
  registerBackup(program, context);
  registerHealth(program, context);
  // Each area adds its command group here the same way.
  return program;
}

/**
 * Exit codes scripts can rely on: 0 = done and nothing wrong, 1 = failed or done and found a problem,
 * 2 = usage error. A command that completes but finds a problem (a critical report, a failed verify)
 * prints its result and sets `process.exitCode = 1`; that code is what `main` returns.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help")
        return 0;
      return 2;
    }
    if (error instanceof CliError) {
      const json = program.opts<{ json: boolean }>().json;
      if (json) process.stdout.write(`${JSON.stringify({ error: error.message, problem: error.problem ?? null }, null, 2)}\n`);
      process.stderr.write(`keeper: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`keeper: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
