-- 002_adjust_reserve: the request log learns AdjustStock and ReserveStock.
--
-- Each kind of write keeps what a repeat of its request id needs to tell
-- the same call from a different one and to answer the first outcome:
--   method 3 = AdjustStock: product_id, delta and expected_version (NULL:
--            none) are the call's arguments; result_* its outcome
--   method 4 = ReserveStock: items is the call's items as canonical text
--            (id:q=N or id:v=V,s=S per item, in request order, ';'
--            separated); result the products after the change, as a JSON
--            array in item order ({ord,id,name,stock,price,version,
--            created_us,updated_us})
-- The single-product columns stay NOT NULL for methods 1 to 3.

ALTER TABLE request_log DROP CONSTRAINT request_log_method_check;
ALTER TABLE request_log
	ADD CONSTRAINT request_log_method_check CHECK (method IN (1, 2, 3, 4));

ALTER TABLE request_log
	ALTER COLUMN product_id DROP NOT NULL,
	ALTER COLUMN stock DROP NOT NULL,
	ALTER COLUMN result_version DROP NOT NULL,
	ALTER COLUMN result_stock DROP NOT NULL,
	ALTER COLUMN result_updated_at DROP NOT NULL,
	ADD COLUMN delta bigint NULL,
	ADD COLUMN items text NULL,
	ADD COLUMN result jsonb NULL;

ALTER TABLE request_log ADD CONSTRAINT request_log_single_check
	CHECK (method = 4 OR (product_id IS NOT NULL
	       AND result_version IS NOT NULL AND result_stock IS NOT NULL
	       AND result_updated_at IS NOT NULL));
ALTER TABLE request_log ADD CONSTRAINT request_log_stock_check
	CHECK (method NOT IN (1, 2) OR stock IS NOT NULL);
ALTER TABLE request_log ADD CONSTRAINT request_log_adjust_check
	CHECK (method <> 3 OR delta IS NOT NULL);
ALTER TABLE request_log ADD CONSTRAINT request_log_reserve_check
	CHECK (method <> 4 OR (items IS NOT NULL AND result IS NOT NULL));
