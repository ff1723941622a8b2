import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";

/**
 * Without a schema: the services build every query from the table objects and never use the
 * relational `db.query` API, and handing Drizzle the schema made it derive the relational config
 * anew for each client, on every request.
 */
export type Database = DrizzleD1Database;

/**
 * At most one Drizzle client per request (opened when a service first uses `ctx.db`), over the
 * binding it is given. The health area wraps the raw binding with its query monitor before it
 * reaches here, so every query is observed exactly once.
 */
export function openDatabase(d1: D1Database): Database {
  return drizzle(d1);
}
