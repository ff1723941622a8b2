-- Rollback of 0000_initial_schema: children before parents so no cascade has work left to do.
DROP TABLE IF EXISTS `messages`;--> statement-breakpoint
DROP TABLE IF EXISTS `conversations`;--> statement-breakpoint
DROP TABLE IF EXISTS `memory`;--> statement-breakpoint
DROP TABLE IF EXISTS `video_context`;--> statement-breakpoint
DROP TABLE IF EXISTS `videos`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_job_cursors`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_job_runs`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_leases`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_audit_log`;
