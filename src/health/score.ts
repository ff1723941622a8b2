/**
 * The health score: the original design's formula, exactly, plus four weighted checks it lacked.
 * A pure function of the gathered facts, so each rule is tested case by case.
 *
 *   seed:   100 · −50 integrity failure · −10 foreign keys off · −5 orphaned memory · −5 orphaned context
 *           · −10 more than 10 slow queries · healthy ≥ 80, warning ≥ 60, critical < 60
 *   added:  −10 no good backup in 48 h (or none ever) · −5 per failed job run in 24 h (at most −15)
 *           · −10 growth reaches the size limit within 30 days · −5 per hot query doing a full scan (at most −10)
 *           · −5 stored rows break the data API's rules (last snapshot)
 *           · −30 the schema differs from the Worker's migrations (pending, or applied ones it does not know):
 *             the data API answers 503 until it is fixed
 */
export interface HealthFacts {
  integrityOk: boolean;
  foreignKeysOn: boolean;
  orphanedMemory: number;
  orphanedContext: number;
  slowQueries24h: number;
  lastGoodBackupAgeHours: number | null;
  failedRuns24h: number;
  daysUntilLimit: number | null;
  hotQueryFullScans: number;
  apiRuleViolations: number;
  pendingMigrations: number;
  unknownAppliedMigrations: number;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  penalty: number;
  detail: string;
  source: "seed" | "keeper";
}

export type HealthStatus = "healthy" | "warning" | "critical";

export function statusOf(score: number): HealthStatus {
  return score >= 80 ? "healthy" : score >= 60 ? "warning" : "critical";
}

export function scoreHealth(facts: HealthFacts): { score: number; status: HealthStatus; checks: CheckResult[] } {
  const checks: CheckResult[] = [
    {
      name: "integrity",
      ok: facts.integrityOk,
      penalty: facts.integrityOk ? 0 : 50,
      detail: facts.integrityOk ? "quick_check ok" : "quick_check reported problems",
      source: "seed",
    },
    {
      name: "foreign_keys",
      ok: facts.foreignKeysOn,
      penalty: facts.foreignKeysOn ? 0 : 10,
      detail: facts.foreignKeysOn ? "enforced" : "not enforced",
      source: "seed",
    },
    {
      name: "orphaned_memory",
      ok: facts.orphanedMemory === 0,
      penalty: facts.orphanedMemory > 0 ? 5 : 0,
      detail: `${facts.orphanedMemory} row(s)`,
      source: "seed",
    },
    {
      name: "orphaned_context",
      ok: facts.orphanedContext === 0,
      penalty: facts.orphanedContext > 0 ? 5 : 0,
      detail: `${facts.orphanedContext} row(s)`,
      source: "seed",
    },
    {
      name: "slow_queries",
      ok: facts.slowQueries24h <= 10,
      penalty: facts.slowQueries24h > 10 ? 10 : 0,
      detail: `${facts.slowQueries24h} in the last 24 h (more than 10 costs 10)`,
      source: "seed",
    },
    {
      name: "backup_age",
      ok: facts.lastGoodBackupAgeHours !== null && facts.lastGoodBackupAgeHours <= 48,
      penalty: facts.lastGoodBackupAgeHours === null || facts.lastGoodBackupAgeHours > 48 ? 10 : 0,
      detail:
        facts.lastGoodBackupAgeHours === null
          ? "no successful backup yet"
          : `last good backup ${facts.lastGoodBackupAgeHours.toFixed(1)} h ago`,
      source: "keeper",
    },
    {
      name: "failed_runs",
      ok: facts.failedRuns24h === 0,
      penalty: Math.min(15, 5 * facts.failedRuns24h),
      detail: `${facts.failedRuns24h} failed maintenance run(s) in 24 h`,
      source: "keeper",
    },
    {
      name: "growth",
      ok: facts.daysUntilLimit === null || facts.daysUntilLimit > 30,
      penalty: facts.daysUntilLimit !== null && facts.daysUntilLimit <= 30 ? 10 : 0,
      detail:
        facts.daysUntilLimit === null
          ? "not growing (or not enough history)"
          : `size limit in ${facts.daysUntilLimit.toFixed(1)} days at the current rate`,
      source: "keeper",
    },
    {
      name: "hot_query_scans",
      ok: facts.hotQueryFullScans === 0,
      penalty: Math.min(10, 5 * facts.hotQueryFullScans),
      detail: `${facts.hotQueryFullScans} hot API query plan(s) scan a table`,
      source: "keeper",
    },
    {
      name: "api_rules",
      ok: facts.apiRuleViolations === 0,
      penalty: facts.apiRuleViolations > 0 ? 5 : 0,
      detail: `${facts.apiRuleViolations} stored value(s) break the data API's rules (keeper health integrity lists them)`,
      source: "keeper",
    },
    {
      name: "schema",
      ok: facts.pendingMigrations === 0 && facts.unknownAppliedMigrations === 0,
      penalty: facts.pendingMigrations > 0 || facts.unknownAppliedMigrations > 0 ? 30 : 0,
      detail:
        facts.unknownAppliedMigrations > 0
          ? `${facts.pendingMigrations} migration(s) pending, ${facts.unknownAppliedMigrations} applied that this Worker does not know: the data API answers 503`
          : facts.pendingMigrations > 0
            ? `${facts.pendingMigrations} migration(s) pending: the data API answers 503 until keeper migrate apply`
            : "matches the Worker's migrations",
      source: "keeper",
    },
  ];
  const score = Math.max(0, 100 - checks.reduce((sum, check) => sum + check.penalty, 0));
  return { score, status: statusOf(score), checks };
}
