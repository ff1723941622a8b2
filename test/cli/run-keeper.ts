import { spawn } from "node:child_process";
import path from "node:path";

const keeper = path.resolve(import.meta.dirname, "../../cli/keeper.ts");

export interface KeeperRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a user would (a child process, no terminal), with only PATH and `env` set. */
export function runKeeper(args: string[], env: Record<string, string> = {}): Promise<KeeperRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [keeper, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env } as unknown as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
