-- Rollback of 0003_health_tables: monitoring history only; no application data lives here.
DROP TABLE IF EXISTS `keeper_query_stats`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_query_slow`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_health_snapshots`;--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_alert_state`;
