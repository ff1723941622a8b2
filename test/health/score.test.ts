import { describe, expect, it } from "vitest";
import { type HealthFacts, scoreHealth, statusOf } from "../../src/health/score";

const perfect: HealthFacts = {
  integrityOk: true,
  foreignKeysOn: true,
  orphanedMemory: 0,
  orphanedContext: 0,
  slowQueries24h: 0,
  lastGoodBackupAgeHours: 2,
  failedRuns24h: 0,
  daysUntilLimit: null,
  hotQueryFullScans: 0,
  apiRuleViolations: 0,
  pendingMigrations: 0,
  unknownAppliedMigrations: 0,
};

describe("health score", () => {
  it.each<[string, Partial<HealthFacts>, number, string]>([
    ["everything fine", {}, 100, "healthy"],
    ["integrity failure (seed: −50)", { integrityOk: false }, 50, "critical"],
    ["foreign keys off (seed: −10)", { foreignKeysOn: false }, 90, "healthy"],
    ["orphaned memory (seed: −5)", { orphanedMemory: 3 }, 95, "healthy"],
    ["orphaned context (seed: −5)", { orphanedContext: 1 }, 95, "healthy"],
    ["10 slow queries is still fine", { slowQueries24h: 10 }, 100, "healthy"],
    ["11 slow queries (seed: −10)", { slowQueries24h: 11 }, 90, "healthy"],
    ["no backup ever (−10)", { lastGoodBackupAgeHours: null }, 90, "healthy"],
    ["backup 49 h old (−10)", { lastGoodBackupAgeHours: 49 }, 90, "healthy"],
    ["two failed runs (−10)", { failedRuns24h: 2 }, 90, "healthy"],
    ["failed runs cap at −15", { failedRuns24h: 9 }, 85, "healthy"],
    ["limit within 30 days (−10)", { daysUntilLimit: 12 }, 90, "healthy"],
    ["limit in 31 days is fine", { daysUntilLimit: 31 }, 100, "healthy"],
    ["full scans cap at −10", { hotQueryFullScans: 4 }, 90, "healthy"],
    ["stored rows breaking the API's rules (−5)", { apiRuleViolations: 3 }, 95, "healthy"],
    ["migrations pending (−30)", { pendingMigrations: 2 }, 70, "warning"],
    ["applied migrations the Worker does not know (−30)", { unknownAppliedMigrations: 1 }, 70, "warning"],
    ["warning band", { foreignKeysOn: false, slowQueries24h: 50, lastGoodBackupAgeHours: null }, 70, "warning"],
    ["exactly 80 is healthy", { foreignKeysOn: false, slowQueries24h: 11 }, 80, "healthy"],
    [
      "exactly 60 is warning",
      { foreignKeysOn: false, slowQueries24h: 11, lastGoodBackupAgeHours: null, daysUntilLimit: 1 },
      60,
      "warning",
    ],
    [
      "everything wrong floors at 0",
      {
        integrityOk: false,
        foreignKeysOn: false,
        orphanedMemory: 1,
        orphanedContext: 1,
        slowQueries24h: 99,
        lastGoodBackupAgeHours: null,
        failedRuns24h: 5,
        daysUntilLimit: 1,
        hotQueryFullScans: 5,
      },
      0,
      "critical",
    ],
  ])("%s", (_label, change, score, status) => {
    const result = scoreHealth({ ...perfect, ...change });
    expect(result.score).toBe(score);
    expect(result.status).toBe(status);
    // Every point lost is attributed to a check.
    expect(Math.max(0, 100 - result.checks.reduce((sum, check) => sum + check.penalty, 0))).toBe(score);
  });

  it("status bands follow the seed", () => {
    expect([statusOf(100), statusOf(80), statusOf(79), statusOf(60), statusOf(59)]).toEqual([
      "healthy",
      "healthy",
      "warning",
      "warning",
      "critical",
    ]);
  });
});
