CREATE TABLE `keeper_alert_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `keeper_health_snapshots` (
	`at` integer PRIMARY KEY NOT NULL,
	`size_bytes` integer NOT NULL,
	`row_counts` text NOT NULL,
	`quick_check` text NOT NULL,
	`foreign_key_violations` text NOT NULL,
	`score` integer,
	`status` text,
	CONSTRAINT "keeper_health_snapshots_counts_json" CHECK(json_valid("row_counts") AND json_valid("foreign_key_violations"))
);
--> statement-breakpoint
CREATE TABLE `keeper_query_slow` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`statement` text NOT NULL,
	`duration_ms` real NOT NULL,
	`rows_read` integer NOT NULL,
	`rows_returned` integer NOT NULL,
	`reason` text NOT NULL,
	CONSTRAINT "keeper_query_slow_reason" CHECK("reason" IN ('slow', 'wide'))
);
--> statement-breakpoint
CREATE INDEX `idx_keeper_query_slow_at` ON `keeper_query_slow` (`at`);--> statement-breakpoint
CREATE TABLE `keeper_query_stats` (
	`statement` text NOT NULL,
	`hour` integer NOT NULL,
	`calls` integer NOT NULL,
	`total_ms` real NOT NULL,
	`max_ms` real NOT NULL,
	`rows_read` integer NOT NULL,
	`rows_written` integer NOT NULL,
	`rows_returned` integer NOT NULL,
	`slow_calls` integer NOT NULL,
	`le_5` integer DEFAULT 0 NOT NULL,
	`le_25` integer DEFAULT 0 NOT NULL,
	`le_100` integer DEFAULT 0 NOT NULL,
	`le_250` integer DEFAULT 0 NOT NULL,
	`le_1000` integer DEFAULT 0 NOT NULL,
	`le_inf` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`statement`, `hour`)
);
--> statement-breakpoint
CREATE INDEX `idx_keeper_query_stats_hour` ON `keeper_query_stats` (`hour`);