CREATE TABLE `keeper_query_totals` (
	`id` integer PRIMARY KEY NOT NULL,
	`calls` integer NOT NULL,
	`total_ms` real NOT NULL,
	`slow_calls` integer NOT NULL,
	`rows_read` integer NOT NULL,
	`rows_written` integer NOT NULL,
	`le_5` integer NOT NULL,
	`le_25` integer NOT NULL,
	`le_100` integer NOT NULL,
	`le_250` integer NOT NULL,
	`le_1000` integer NOT NULL,
	`le_inf` integer NOT NULL,
	CONSTRAINT "keeper_query_totals_one_row" CHECK("id" = 1)
);
--> statement-breakpoint
-- The totals start from the statistics still kept, so the counters continue from what /metrics showed.
INSERT INTO `keeper_query_totals` (`id`, `calls`, `total_ms`, `slow_calls`, `rows_read`, `rows_written`, `le_5`, `le_25`, `le_100`, `le_250`, `le_1000`, `le_inf`)
SELECT 1, coalesce(sum(`calls`), 0), coalesce(sum(`total_ms`), 0), coalesce(sum(`slow_calls`), 0), coalesce(sum(`rows_read`), 0), coalesce(sum(`rows_written`), 0),
  coalesce(sum(`le_5`), 0), coalesce(sum(`le_25`), 0), coalesce(sum(`le_100`), 0), coalesce(sum(`le_250`), 0), coalesce(sum(`le_1000`), 0), coalesce(sum(`le_inf`), 0)
FROM `keeper_query_stats`;
