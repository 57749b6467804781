-- Keep a typical user's row in one piece.
--
-- PostgreSQL moves long values out of a row into the table's TOAST table once the row
-- is longer than toast_tuple_target, 2 KB by default. A Clerk user's raw object is
-- 3-5 KB as text and still about 2.2 KB once compressed, so with the default every
-- write of a profile also inserted raw's chunks into the TOAST table and its index, and
-- deleted the previous version's: about a fifth of the server's CPU per delivery, and a
-- TOAST table that grew far beyond the table itself under steady updates.
--
-- With a target of 4 KB, a row up to 4 KB is stored as it is; a longer one has raw
-- compressed (lz4, 00004) and kept in the row; only a row still over 4 KB after
-- compression goes to the TOAST table. Rows written before this migration move as
-- they are next updated.

-- +goose Up
ALTER TABLE profiles SET (toast_tuple_target = 4096);

-- +goose Down
ALTER TABLE profiles RESET (toast_tuple_target);
