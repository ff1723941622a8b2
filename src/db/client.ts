import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Database = DrizzleD1Database<typeof schema>;

/**
 * One Drizzle client per request, over the binding it is given. The health area wraps the raw
 * binding with its query monitor before it reaches here, so every query is observed exactly once.
 */
export function openDatabase(d1: D1Database): Database {
  return drizzle(d1, { schema });
}
