CREATE TABLE `keeper_backup_checks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`backup_id` text NOT NULL,
	`kind` text NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`ok` integer NOT NULL,
	`problems` integer NOT NULL,
	`summary` text,
	CONSTRAINT "keeper_backup_checks_kind_known" CHECK("kind" IN ('verify', 'drill')),
	CONSTRAINT "keeper_backup_checks_ok_means_no_problems" CHECK("problems" >= 0 AND "ok" = ("problems" = 0))
);
--> statement-breakpoint
CREATE INDEX `idx_keeper_backup_checks_backup` ON `keeper_backup_checks` (`backup_id`,`id`);