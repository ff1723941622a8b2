-- Rollback of 0007_backup_checks: the record of verifies and drills only; the backups themselves stay in R2.
DROP INDEX IF EXISTS `idx_keeper_backup_checks_backup`;
--> statement-breakpoint
DROP TABLE IF EXISTS `keeper_backup_checks`;
