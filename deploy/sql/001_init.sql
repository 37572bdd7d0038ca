-- 001_init: products and the request log.
--
-- Applied by `inventoryd --migrate` (store_migrate), inside one transaction,
-- recorded in schema_migrations.  Never edit an applied migration: add the
-- next numbered file instead.  The files are embedded into inventoryd at
-- build time, so no transaction control statements here.

-- One row per product.  `version` is the optimistic-concurrency token: every
-- update is `... WHERE id = $1 AND version = $2` and bumps it by exactly 1.
-- `last_request_id` is the request id of the write that produced the
-- current version, so the usual repeat (right after a lost reply) is
-- answered from the row itself.  fillfactor leaves room on each page so
-- stock updates stay HOT (no indexed column changes).
CREATE TABLE products (
	id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
	name            text          NOT NULL
	                              CHECK (octet_length(name) BETWEEN 1 AND 200),
	stock           integer       NOT NULL CHECK (stock >= 0),
	price           numeric(12,2) NOT NULL CHECK (price >= 0),
	version         bigint        NOT NULL DEFAULT 1 CHECK (version >= 1),
	created_at      timestamptz   NOT NULL DEFAULT now(),
	updated_at      timestamptz   NOT NULL DEFAULT now(),
	last_request_id text          NULL
) WITH (fillfactor = 90);

-- One row per mutating call that carried a request id: enough to tell
-- whether a repeat of that id is the same call and to return its first
-- outcome.  Written in the same statement as the change it records, so the
-- two commit or vanish together; pruned by created_at (store_maintain).
--   method 1 = UpdateStock: expected_version and stock are the call's
--            arguments
--   method 2 = CreateProduct: name, stock and price are the call's
--            arguments
CREATE TABLE request_log (
	request_id        text          PRIMARY KEY,
	method            smallint      NOT NULL CHECK (method IN (1, 2)),
	product_id        uuid          NOT NULL,
	expected_version  bigint        NULL,
	stock             integer       NOT NULL,
	name              text          NULL,
	price             numeric(12,2) NULL,
	result_version    bigint        NOT NULL,
	result_stock      integer       NOT NULL,
	result_updated_at timestamptz   NOT NULL,
	created_at        timestamptz   NOT NULL DEFAULT now(),
	CHECK (method <> 1 OR expected_version IS NOT NULL),
	CHECK (method <> 2 OR (name IS NOT NULL AND price IS NOT NULL))
);

CREATE INDEX request_log_created_at_idx ON request_log (created_at);
