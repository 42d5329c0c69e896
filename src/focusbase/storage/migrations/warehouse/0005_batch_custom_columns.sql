-- The distinct custom (x_) column names a batch has received so far, so that a limit on them holds across
-- the parts of a multi-part batch.
ALTER TABLE batches ADD COLUMN custom_columns JSON;
