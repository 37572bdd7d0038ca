-- 003_caller: who wrote what (issue 9's audit trail).
--
-- products.updated_by is the caller (the name in inventoryd's --auth-file)
-- of the write that produced the current version; request_log.caller is
-- the caller of each logged write.  NULL when the server runs without
-- --auth-file, or for rows written before this migration.

ALTER TABLE products ADD COLUMN updated_by text NULL;
ALTER TABLE request_log ADD COLUMN caller text NULL;
