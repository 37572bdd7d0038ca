-- 004_last_call: the product row remembers which call produced its
-- current version, not only its request id.
--
-- products.last_request_call is that call as canonical text, written by
-- the same statement that sets last_request_id (NULL without a request
-- id):
--   '1:<expected_version>:<stock>'              UpdateStock
--   '2:'                                        CreateProduct
--   '3:<delta>:<expected_version or empty>'     AdjustStock
--   '4:<items as request_log.items>'            ReserveStock
-- Once a request id's request_log row is pruned, a repeat of it that
-- finds the id still on the row is answered from the row only when the
-- method, the arguments and the caller (products.updated_by) are the same;
-- otherwise ALREADY_EXISTS.  Rows written before this migration have
-- NULL here and get ALREADY_EXISTS: never an OK without proof that it is
-- the same call.

ALTER TABLE products ADD COLUMN last_request_call text NULL;
