import type { AppDependencies } from "../platform/context";
import { monitorD1, QueryRecorder } from "./monitor";

/**
 * The production wiring of the query monitor: a request's queries, flushed once afterwards.
 * QUERY_MONITOR_SAMPLE_RATE (0–1, default 1) watches only that share of requests (0 turns it off);
 * statistics then count sampled requests only.
 */
export const queryMonitor: NonNullable<AppDependencies["queryMonitor"]> = (d1, { config, now }) => {
  if (config.QUERY_MONITOR_SAMPLE_RATE < 1 && Math.random() >= config.QUERY_MONITOR_SAMPLE_RATE)
    return { d1, flush: async () => {} };
  const recorder = new QueryRecorder(config.SLOW_QUERY_MS);
  return {
    d1: monitorD1(d1, recorder),
    flush: async () => {
      const statements = recorder.statements(d1, now().getTime());
      if (statements.length > 0) await d1.batch(statements);
    },
  };
};
