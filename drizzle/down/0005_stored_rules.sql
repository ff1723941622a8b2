DROP TRIGGER IF EXISTS `messages_rules_update`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `messages_rules_insert`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `conversations_rules_update`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `conversations_rules_insert`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `memory_rules_update`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `memory_rules_insert`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `video_context_rules_update`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `video_context_rules_insert`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `videos_rules_update`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `videos_rules_insert`;
--> statement-breakpoint
ALTER TABLE `keeper_health_snapshots` DROP COLUMN `rule_violations`;
--> statement-breakpoint
ALTER TABLE `videos` DROP COLUMN `purging_at`;
