-- Rollback of 0002_archival_tables: the archive objects stay in R2; only the lookup index goes.
DROP TABLE IF EXISTS `keeper_archived_conversations`;
