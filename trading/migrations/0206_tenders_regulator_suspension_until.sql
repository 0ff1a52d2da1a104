-- When the supervising authority's order to suspend lapses by law (政府采购法 第五十七条: 暂停时间最长不得超过三十日),
-- NULL while an order without such a limit stands (招标投标法实施条例 第六十二条). The order stops the tender while
-- regulator_suspended is true and this instant, if any, is still to come: the clock decides, not a sweep.
ALTER TABLE tenders ADD COLUMN regulator_suspended_until timestamptz;
