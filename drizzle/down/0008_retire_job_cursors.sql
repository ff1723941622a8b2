-- Rollback of 0008_retire_job_cursors: the table comes back empty (jobs resume from their Workflow's
-- state now; nothing reads or writes it).
CREATE TABLE `keeper_job_cursors` (
	`job` text PRIMARY KEY NOT NULL,
	`cursor` text NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "keeper_job_cursors_json" CHECK(json_valid("cursor"))
);
