package cmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newMigrateCommand() *cobra.Command {
	var status bool
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema up to date",
		Long: `Apply the database migrations this nbreg knows and the database lacks, each
in its own transaction, and list those applied.

Every other command (serve included) does this by itself; migrate is for
doing it explicitly, for example right after upgrading nbreg. With --status
it only lists every migration as applied (with the time) or pending.`,
		Example: `  # apply pending migrations
  nbreg migrate

  # see which migrations are applied, without changing anything
  nbreg migrate --status

  # migrate another database
  nbreg migrate --db /srv/nbreg/registry.db`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if status {
				return migrationStatus(c)
			}
			return migrate(c)
		},
	}
	c.Flags().BoolVar(&status, "status", false, "list applied and pending migrations without applying any (e.g. --status)")
	return c
}

func migrate(c *cobra.Command) error {
	store, path, err := openStore(c, false)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.migrate(c.Context())
	if err != nil {
		return withDatabase(err, "cannot bring up to date database", path)
	}
	out := c.OutOrStdout()
	if len(applied) == 0 {
		fmt.Fprintf(out, "database %s is up to date\n", path)
	}
	for _, m := range applied {
		fmt.Fprintf(out, "applied %s\n", migrationLabel(m))
	}
	return nil
}

func migrationStatus(c *cobra.Command) error {
	store, path, err := openStore(c, false)
	if err != nil {
		return err
	}
	defer store.Close()
	migrations, err := store.status(c.Context())
	if err != nil {
		return withDatabase(err, "cannot read the migrations of database", path)
	}
	w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MIGRATION\tSTATUS")
	for _, m := range migrations {
		state := "pending"
		if !m.AppliedOn.IsZero() {
			state = "applied " + m.AppliedOn.Local().Format(time.DateTime)
		}
		fmt.Fprintf(w, "%s\t%s\n", migrationLabel(m), state)
	}
	return w.Flush()
}
