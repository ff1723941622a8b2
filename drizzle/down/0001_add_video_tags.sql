-- Rollback of 0001_add_video_tags: the index must go before the column it covers.
DROP INDEX IF EXISTS `idx_videos_tags`;--> statement-breakpoint
ALTER TABLE `videos` DROP COLUMN `tags`;
