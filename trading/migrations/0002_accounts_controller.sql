-- The unit that controls or manages an organisation (控股股东或管理单位), by its 统一社会信用代码, as the
-- organisation declares it: units with a control or management relationship may not bid on the same lot, and such
-- bids are all invalid (招标投标法实施条例 第三十四条). Not a foreign key: the controller need not be registered.
ALTER TABLE organisations ADD COLUMN controller_credit_code text
    CHECK (controller_credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$');
CREATE INDEX organisations_controller_idx ON organisations (controller_credit_code)
    WHERE controller_credit_code IS NOT NULL;
