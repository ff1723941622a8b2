-- Rollback of 0004_query_totals: monitoring counters only; keeper_query_stats keeps the recent history.
DROP TABLE IF EXISTS `keeper_query_totals`;
