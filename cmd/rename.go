package cmd

import (
	"fmt"
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"nbreg/registry"
)

func newAdminRenameCommand() *cobra.Command {
	var kind, as string
	c := &cobra.Command{
		Use:   "admin-rename OLD NEW",
		Short: "Rename a resource, archive or datatype",
		Long: `Give the resource called OLD the name NEW. Names are cited in notebooks and
papers, so the old one is retired rather than freed: it is never minted or
accepted again, and the API answers requests for it with a 301 redirect to
the new name (resources/OLD/, its locations, downloads and history), while
bulk/ requests that give OLD get the record of NEW. Renaming again keeps
every old name leading to the newest one. The rename is recorded in the
resource's history.

With --kind archive or --kind datatype, rename an archive or a datatype
instead: resources follow at once. Their old names are retired too (no
other archive or datatype may take them later), but the API does not
redirect them: clients look archives up by name only to list them.`,
		Example: `  # rename a resource; the old name keeps working as a redirect
  nbreg admin-rename heengei8 st1010_song_3

  # rename an archive
  nbreg admin-rename --kind archive local-disk starling-raid`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &usageError{err: fmt.Errorf("admin-rename takes exactly two arguments, the old name and the new one, and got %d", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			old, new := args[0], args[1]
			store, _, err := openStore(c, true)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := c.Context()
			switch kind {
			case "resource":
				err = store.RenameResource(ctx, old, new, actorName(as))
			case "archive":
				err = store.RenameArchive(ctx, old, new)
			case "datatype":
				err = store.RenameDataType(ctx, old, new)
			default:
				return &usageError{err: fmt.Errorf("--kind takes resource, archive or datatype, not %q", kind)}
			}
			switch registry.ErrorCode(err) {
			case "":
			case registry.ENOTFOUND:
				if kind == "resource" {
					if current, err := store.ResolveName(ctx, old); err == nil {
						return fmt.Errorf("%s was renamed to %s: rename %s instead", old, current, current)
					}
				}
				return fmt.Errorf("there is no %s named %q", kind, old)
			case registry.ECONFLICT:
				return fmt.Errorf("the name %q is taken: it belongs, or once belonged, to another %s", new, kind)
			default:
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "renamed %s %s to %s\n", kind, old, new)
			return nil
		},
	}
	c.Flags().StringVar(&kind, "kind", "resource", "what to rename: resource, archive or datatype (e.g. --kind archive)")
	c.Flags().StringVar(&as, "as", "", "the username recorded in the resource's history (default: your login name, e.g. --as dmeliza)")
	return c
}

// actorName is the username that commands record in histories: the one
// given, else the login name of whoever runs nbreg, so that changes made at
// the terminal are traced to a person too.
func actorName(given string) string {
	if given != "" {
		return given
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "admin"
}
