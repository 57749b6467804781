package main

import (
	"context"
	"fmt"
)

// MigrateCommand creates or upgrades the schema and exits. serve migrates at start too;
// migrate is for deployments that run schema changes as a step of their own.
type MigrateCommand struct {
	*Main
	common commonFlags
}

// Run migrates the database named by DATABASE_URL to the newest schema.
func (c *MigrateCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("migrate [flags]", "Create or upgrade clerksync's tables and exit. Safe to run from several replicas at once.", c.Stderr)
	c.common.register(fs, c.Getenv)
	if err := parseFlagsOnly(fs, args, "migrate", ""); err != nil {
		return err
	}
	logger, err := c.common.logger(c.Stderr)
	if err != nil {
		return err
	}
	db, store, err := c.common.openDB(ctx, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(c.Stdout, "%s is at the newest schema\n", db)
	return nil
}
