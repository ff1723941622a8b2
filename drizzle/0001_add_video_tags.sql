ALTER TABLE `videos` ADD `tags` text;--> statement-breakpoint
CREATE INDEX `idx_videos_tags` ON `videos` (`tags`);