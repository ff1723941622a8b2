// drizzle-kit reads this file: every table of the database is exported from here.
export * from "./app";
export * from "./archival";
export * from "./backups";
export * from "./health";
export * from "./ops";
