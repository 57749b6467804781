-- SQLite's 00007 rebuilds profiles so that its JSON checks hold for NULL on every
-- SQLite version. PostgreSQL's jsonb columns need nothing; this migration keeps the two
-- dialects' version numbers in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
