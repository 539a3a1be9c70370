import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}
export type Db = ReturnType<typeof createDb>;
export { schema };

/** A drizzle query as a plain D1 statement, so it can share one atomic batch with raw statements. */
export function toD1(d1: D1Database, q: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql, params } = q.toSQL();
  return d1.prepare(sql).bind(...params);
}
