-- PostgreSQL's 00004 tunes how profiles rows are stored (lz4 for raw, fillfactor for
-- HOT updates). SQLite has neither setting; this migration keeps the two dialects'
-- version numbers in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
