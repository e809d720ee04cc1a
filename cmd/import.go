package cmd

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"nbreg/transfer"
)

func newImportCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Load a registry from an export or a django-neurobank dump",
		Long: `Load the registry in FILE ("-" for standard input) into the database. FILE
is either an "nbreg export" or the JSON that Django's "manage.py dumpdata"
writes on a django-neurobank site (the whole-site dump, plain or with
--natural-foreign --natural-primary). From a Django dump nbreg keeps the
datatypes, archives, resources (names, sha1 lowercased, datatype,
metadata, locations, created_on, created_by), users and their Django REST
framework tokens; other apps' records are skipped and counted. Users keep
their Django password hashes, so they sign in with their old passwords:
superusers become admin, users allowed to add or change resources
(themselves or through a group) editor, everyone else viewer; users
inactive in Django come with password sign-in off. Fields missing from
older versions of django-neurobank get their defaults.

The import is all or nothing: on any error nothing is written, and the
error names the record that failed. Records may not collide with what the
database holds already (a name or username in use, a retired name).`,
		Example: `  # move in from django-neurobank
  python manage.py dumpdata --natural-foreign --natural-primary > site.json
  nbreg --db /srv/nbreg/registry.db import site.json

  # restore an export
  nbreg import registry.jsonl`,
		Args: exactArgs("the file to import (- for standard input)"),
		RunE: func(c *cobra.Command, args []string) error {
			var in io.Reader = c.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("cannot read %s: %w", args[0], err)
				}
				defer f.Close()
				in = f
			}
			store, path, err := openStore(c, true)
			if err != nil {
				return err
			}
			defer store.Close()
			summary, err := transfer.Import(c.Context(), store, in, progressBar(c, "importing"))
			if err != nil {
				return fmt.Errorf("nothing was imported: %w", err)
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "imported %s into %s: %d datatypes, %d archives, %d users, %d resources, %d locations, %d history entries, %d retired names\n",
				summary.Format, path, summary.DataTypes, summary.Archives, summary.Users, summary.Resources, summary.Locations, summary.Changes, summary.RetiredNames)
			if summary.LocationKeys > 0 {
				fmt.Fprintf(out, "location keys kept: %d\n", summary.LocationKeys)
			}
			if len(summary.Skipped) > 0 {
				var parts []string
				for model, n := range summary.Skipped {
					parts = append(parts, fmt.Sprintf("%s %d", model, n))
				}
				sort.Strings(parts)
				fmt.Fprintf(out, "skipped records nbreg does not keep: %s\n", strings.Join(parts, ", "))
			}
			for _, note := range summary.Notes {
				fmt.Fprintf(out, "note: %s\n", note)
			}
			return nil
		},
	}
	return c
}
