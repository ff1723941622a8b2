CREATE TABLE `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`video_id` text NOT NULL,
	`title` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`video_id`) REFERENCES `videos`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "conversations_id_not_empty" CHECK("id" != '')
);
--> statement-breakpoint
CREATE INDEX `idx_conversations_video` ON `conversations` (`video_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `idx_conversations_updated` ON `conversations` (`updated_at`);--> statement-breakpoint
CREATE TABLE `memory` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`video_id` text NOT NULL,
	`timestamp` real NOT NULL,
	`content` text NOT NULL,
	`metadata` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`video_id`) REFERENCES `videos`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "memory_timestamp_non_negative" CHECK("timestamp" >= 0),
	CONSTRAINT "memory_timestamp_numeric" CHECK(typeof("timestamp") = 'real'),
	CONSTRAINT "memory_content_not_empty" CHECK("content" != ''),
	CONSTRAINT "memory_metadata_json" CHECK("metadata" IS NULL OR json_valid("metadata"))
);
--> statement-breakpoint
CREATE INDEX `idx_memory_video_timestamp` ON `memory` (`video_id`,"timestamp" DESC);--> statement-breakpoint
CREATE TABLE `messages` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`conversation_id` text NOT NULL,
	`role` text NOT NULL,
	`content` text NOT NULL,
	`metadata` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "messages_role_known" CHECK("role" IN ('user', 'assistant', 'system', 'tool')),
	CONSTRAINT "messages_metadata_json" CHECK("metadata" IS NULL OR json_valid("metadata"))
);
--> statement-breakpoint
CREATE INDEX `idx_messages_conversation` ON `messages` (`conversation_id`,`id`);--> statement-breakpoint
CREATE TABLE `video_context` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`video_id` text NOT NULL,
	`context_type` text NOT NULL,
	`tool_name` text NOT NULL,
	`timestamp` real,
	`timestamp_key` real GENERATED ALWAYS AS (coalesce("timestamp", -1)) VIRTUAL,
	`data` text NOT NULL,
	`confidence` real,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`video_id`) REFERENCES `videos`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "video_context_timestamp_non_negative" CHECK("timestamp" IS NULL OR "timestamp" >= 0),
	CONSTRAINT "video_context_timestamp_numeric" CHECK("timestamp" IS NULL OR typeof("timestamp") = 'real'),
	CONSTRAINT "video_context_confidence_numeric" CHECK("confidence" IS NULL OR typeof("confidence") = 'real'),
	CONSTRAINT "video_context_confidence_range" CHECK("confidence" IS NULL OR ("confidence" >= 0 AND "confidence" <= 1)),
	CONSTRAINT "video_context_data_json" CHECK(json_valid("data")),
	CONSTRAINT "video_context_type_not_empty" CHECK("context_type" != ''),
	CONSTRAINT "video_context_tool_not_empty" CHECK("tool_name" != '')
);
--> statement-breakpoint
CREATE UNIQUE INDEX `video_context_entry_unique_nulls` ON `video_context` (`video_id`,`context_type`,`timestamp_key`,`tool_name`);--> statement-breakpoint
CREATE INDEX `idx_video_context_lookup` ON `video_context` (`video_id`,`context_type`,`timestamp`);--> statement-breakpoint
CREATE INDEX `idx_video_context_video` ON `video_context` (`video_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `video_context_entry_unique` ON `video_context` (`video_id`,`context_type`,`timestamp`,`tool_name`);--> statement-breakpoint
CREATE TABLE `videos` (
	`id` text PRIMARY KEY NOT NULL,
	`filename` text NOT NULL,
	`file_path` text NOT NULL,
	`duration` real NOT NULL,
	`category` text,
	`metadata` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`deleted_at` integer,
	CONSTRAINT "videos_duration_positive" CHECK("duration" > 0),
	CONSTRAINT "videos_duration_numeric" CHECK(typeof("duration") = 'real'),
	CONSTRAINT "videos_filename_not_empty" CHECK("filename" != ''),
	CONSTRAINT "videos_file_path_not_empty" CHECK("file_path" != ''),
	CONSTRAINT "videos_metadata_json" CHECK("metadata" IS NULL OR json_valid("metadata")),
	CONSTRAINT "videos_id_not_empty" CHECK("id" != '')
);
--> statement-breakpoint
CREATE UNIQUE INDEX `videos_file_path_unique` ON `videos` (`file_path`);--> statement-breakpoint
CREATE INDEX `idx_videos_live_created` ON `videos` (`deleted_at`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `idx_videos_created` ON `videos` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `idx_videos_deleted_at` ON `videos` (`deleted_at`);--> statement-breakpoint
CREATE TABLE `keeper_audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text,
	`dry_run` integer DEFAULT false NOT NULL,
	`detail` text,
	CONSTRAINT "keeper_audit_log_detail_json" CHECK("detail" IS NULL OR json_valid("detail"))
);
--> statement-breakpoint
CREATE INDEX `idx_keeper_audit_log_at` ON `keeper_audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `keeper_job_cursors` (
	`job` text PRIMARY KEY NOT NULL,
	`cursor` text NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "keeper_job_cursors_json" CHECK(json_valid("cursor"))
);
--> statement-breakpoint
CREATE TABLE `keeper_job_runs` (
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
CREATE INDEX `idx_keeper_job_runs_job_started` ON `keeper_job_runs` (`job`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_keeper_job_runs_started` ON `keeper_job_runs` (`started_at`);--> statement-breakpoint
CREATE TABLE `keeper_leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`acquired_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
