-- Rollback of 0004_job_runtime: the job-runtime columns go; a run recorded as 'cancelled' becomes
-- 'failed' (the old CHECK has no 'cancelled'), keeping its error text.
CREATE TABLE `__old_keeper_job_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job` text NOT NULL,
	`trigger` text NOT NULL,
	`actor` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`counts` text,
	`error` text,
	CONSTRAINT "keeper_job_runs_trigger_known" CHECK("trigger" IN ('cron', 'manual')),
	CONSTRAINT "keeper_job_runs_status_known" CHECK("status" IN ('running', 'succeeded', 'partial', 'failed', 'skipped')),
	CONSTRAINT "keeper_job_runs_counts_json" CHECK("counts" IS NULL OR json_valid("counts"))
);
--> statement-breakpoint
INSERT INTO `__old_keeper_job_runs`("id", "job", "trigger", "actor", "status", "started_at", "finished_at", "counts", "error") SELECT "id", "job", "trigger", "actor", CASE "status" WHEN 'cancelled' THEN 'failed' ELSE "status" END, "started_at", "finished_at", "counts", "error" FROM `keeper_job_runs`;--> statement-breakpoint
DROP TABLE `keeper_job_runs`;--> statement-breakpoint
ALTER TABLE `__old_keeper_job_runs` RENAME TO `keeper_job_runs`;--> statement-breakpoint
CREATE INDEX `idx_keeper_job_runs_job_started` ON `keeper_job_runs` (`job`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_keeper_job_runs_started` ON `keeper_job_runs` (`started_at`);
