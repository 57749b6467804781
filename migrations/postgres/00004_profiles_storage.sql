-- How profiles rows are stored, for the write path of every delivery.
--
-- raw (the ~4 KB user object) is compressed with lz4 instead of the default pglz:
-- compressing it was the largest single cost of a write. Servers built without lz4
-- keep pglz.
--
-- fillfactor 70 leaves room on each page for the next version of its rows, so that an
-- update that changes no indexed column (a name, metadata, last_active_at) is a HOT
-- update: no index is touched. It applies to pages written from now on.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    ALTER TABLE profiles ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server; raw stays compressed with pglz';
END
$$;
-- +goose StatementEnd
ALTER TABLE profiles SET (fillfactor = 70);

-- +goose Down
ALTER TABLE profiles RESET (fillfactor);
ALTER TABLE profiles ALTER COLUMN raw SET COMPRESSION default;
