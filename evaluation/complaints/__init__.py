"""投诉 (complaints) to the supervising authority about a tender or one of its lots: 招标投标法实施条例 第六十至六十二条
(RULES 5.8) and, for government procurement, 政府采购法 第五十五至五十七条. It lives in `evaluation` because it reads
the objections of every stage (documents, opening, result); `trading` knows only the generic regulator suspension
(tenders.regulator_suspended)."""
