-- keeper_job_runs is rebuilt (SQLite cannot change a CHECK in place); no table references it, so
-- the rebuild cascades nothing.
CREATE TABLE `__new_keeper_job_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job` text NOT NULL,
	`trigger` text NOT NULL,
	`actor` text NOT NULL,
	`status` text NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`counts` text,
	`error` text,
	`holder` text,
	`instance_id` text,
	`progress` text,
	CONSTRAINT "keeper_job_runs_trigger_known" CHECK("trigger" IN ('cron', 'manual')),
	CONSTRAINT "keeper_job_runs_status_known" CHECK("status" IN ('running', 'succeeded', 'partial', 'failed', 'skipped', 'cancelled')),
	CONSTRAINT "keeper_job_runs_counts_json" CHECK("counts" IS NULL OR json_valid("counts")),
	CONSTRAINT "keeper_job_runs_progress_json" CHECK("progress" IS NULL OR json_valid("progress"))
);
--> statement-breakpoint
INSERT INTO `__new_keeper_job_runs`("id", "job", "trigger", "actor", "status", "started_at", "finished_at", "counts", "error") SELECT "id", "job", "trigger", "actor", "status", "started_at", "finished_at", "counts", "error" FROM `keeper_job_runs`;--> statement-breakpoint
DROP TABLE `keeper_job_runs`;--> statement-breakpoint
ALTER TABLE `__new_keeper_job_runs` RENAME TO `keeper_job_runs`;--> statement-breakpoint
CREATE UNIQUE INDEX `idx_keeper_job_runs_instance` ON `keeper_job_runs` (`instance_id`);--> statement-breakpoint
CREATE INDEX `idx_keeper_job_runs_job_started` ON `keeper_job_runs` (`job`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_keeper_job_runs_started` ON `keeper_job_runs` (`started_at`);