package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newBackupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the live database to a new file, safely",
		Long: `Write a consistent copy of the database to FILE, which must not exist. It is
safe while "nbreg serve" runs: the copy is one snapshot (SQLite's VACUUM
INTO), writes go on meanwhile, and none of them reaches the copy half
done. The copy is a complete, compact database on its own (no -wal file);
nbreg checks it with SQLite's integrity_check before reporting success.

To restore, stop the server and put the copy in place of the database.`,
		Example: `  nbreg backup /backup/registry-$(date +%F).db

  # nightly, from cron
  0 3 * * * nbreg --db /srv/nbreg/registry.db backup /backup/registry-$(date +\%F).db`,
		Args: exactArgs("the file to write"),
		RunE: func(c *cobra.Command, args []string) error {
			store, path, err := openStore(c, true)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.backup(c.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "backed up %s to %s (integrity check: ok)\n", path, args[0])
			return nil
		},
	}
}
