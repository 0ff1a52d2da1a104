"""Audio/video recordings of the opening and the evaluation (政府采购货物和服务招标投标管理办法 第三十九条)."""
