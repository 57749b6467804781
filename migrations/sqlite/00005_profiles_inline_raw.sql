-- PostgreSQL's 00005 keeps a typical profiles row out of the TOAST table. SQLite keeps
-- a row of up to a page (8 KiB here) in its page already; this migration keeps the two
-- dialects' version numbers in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
