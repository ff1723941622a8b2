CREATE TABLE `keeper_archived_conversations` (
	`conversation_id` text PRIMARY KEY NOT NULL,
	`video_id` text NOT NULL,
	`archive_key` text NOT NULL,
	`message_count` integer NOT NULL,
	`last_activity_at` integer NOT NULL,
	`archived_at` integer NOT NULL,
	`restored_at` integer,
	CONSTRAINT "keeper_archived_conversations_count" CHECK("message_count" >= 0)
);
--> statement-breakpoint
CREATE INDEX `idx_keeper_archived_conversations_video` ON `keeper_archived_conversations` (`video_id`,`archived_at`);--> statement-breakpoint
CREATE INDEX `idx_keeper_archived_conversations_key` ON `keeper_archived_conversations` (`archive_key`);