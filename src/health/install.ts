import type { AppDependencies } from "../platform/context";
import { monitorD1, QueryRecorder } from "./monitor";

/**
 * Figures of requests not yet written. Module state on purpose: writing once per request doubled
 * the D1 calls of a one-query request, so requests of the same isolate are buffered and written
 * together at most every QUERY_MONITOR_FLUSH_SECONDS (default 10). An isolate that is evicted
 * before its next write loses at most that window of statistics — acceptable for monitoring, and
 * never data.
 */
let buffered = new QueryRecorder(Number.POSITIVE_INFINITY);
let lastWrite = 0;

/**
 * The production wiring of the query monitor: a request's queries, written after the response.
 * QUERY_MONITOR_SAMPLE_RATE (0–1, default 1) watches only that share of requests (0 turns it off);
 * statistics then count sampled requests only.
 */
export const queryMonitor: NonNullable<AppDependencies["queryMonitor"]> = (d1, { config, now }) => {
  if (config.QUERY_MONITOR_SAMPLE_RATE < 1 && Math.random() >= config.QUERY_MONITOR_SAMPLE_RATE)
    return { d1, flush: async () => {} };
  const recorder = new QueryRecorder(config.SLOW_QUERY_MS, () => now().getTime());
  return {
    d1: monitorD1(d1, recorder),
    flush: async () => {
      buffered.merge(recorder);
      const at = now().getTime();
      // A slow or wide statement is written with the request that ran it: with little traffic the
      // next flush could be hours away.
      if (at - lastWrite < config.QUERY_MONITOR_FLUSH_SECONDS * 1000 && buffered.stats.size < 100 && buffered.slow.length === 0)
        return;
      const pending = buffered;
      buffered = new QueryRecorder(Number.POSITIVE_INFINITY);
      lastWrite = at;
      const statements = pending.statements(d1);
      if (statements.length > 0) await d1.batch(statements);
    },
  };
};
