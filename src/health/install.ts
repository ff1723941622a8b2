import type { AppDependencies } from "../platform/context";
import { monitorD1, QueryRecorder } from "./monitor";

/** The production wiring of the query monitor: every request's queries, flushed once afterwards. */
export const queryMonitor: NonNullable<AppDependencies["queryMonitor"]> = (d1, { config, now }) => {
  const recorder = new QueryRecorder(config.SLOW_QUERY_MS);
  return {
    d1: monitorD1(d1, recorder),
    flush: async () => {
      const statements = recorder.statements(d1, now().getTime());
      if (statements.length > 0) await d1.batch(statements);
    },
  };
};
