import { createInterface } from "node:readline/promises";
import { CliError } from "./client.ts";

/**
 * Destructive commands ask on a terminal; in scripts (no TTY) they need --yes, and without it
 * they refuse rather than guess.
 */
export async function confirmOrExit(question: string, options: { yes?: boolean }): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY) {
    throw new CliError(`${question} — refusing without confirmation: pass --yes to run non-interactively`, 2);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} Type 'yes' to continue: `)).trim().toLowerCase();
    if (answer !== "yes" && answer !== "y") throw new CliError("aborted: not confirmed", 1);
  } finally {
    rl.close();
  }
}
