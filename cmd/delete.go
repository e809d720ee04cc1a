package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nbreg/registry"
)

func newAdminDeleteCommand() *cobra.Command {
	var yes bool
	var as string
	c := &cobra.Command{
		Use:   "admin-delete NAME",
		Short: "Delete a resource and retire its name",
		Long: `Delete the resource called NAME and its locations. The name is retired: it
is never minted or accepted again, so it can never come to mean another
file. The deletion is recorded in the resource's history with its last
state, and the history stays readable (nbreg history NAME).

At a terminal you are asked to confirm; elsewhere (a script, a pipe)
--yes is required, so that nothing is deleted by accident.`,
		Example: `  # delete, after confirming at the terminal
  nbreg admin-delete zx8k2m4q

  # delete from a script
  nbreg admin-delete --yes zx8k2m4q`,
		Args: exactArgs("the resource name"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			store, _, err := openStore(c, true)
			if err != nil {
				return err
			}
			defer store.Close()
			ctx := c.Context()
			r, err := store.FindResource(ctx, name)
			if registry.ErrorCode(err) == registry.ENOTFOUND {
				return fmt.Errorf("there is no resource named %q", name)
			} else if err != nil {
				return err
			}
			if !yes {
				if err := confirmDelete(c, r); err != nil {
					return err
				}
			}
			actor := &registry.User{Username: actorName(as)}
			if err := store.DeleteResource(registry.NewContextWithUser(ctx, actor), name); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "deleted resource %s; the name is retired\n", name)
			return nil
		},
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking for confirmation (required when not at a terminal)")
	c.Flags().StringVar(&as, "as", "", "the username recorded in the resource's history (default: your login name, e.g. --as dmeliza)")
	return c
}

// errNotConfirmed is the answer to a "no".
var errNotConfirmed = errors.New("nothing was deleted")

// confirmDelete shows r and asks, at the terminal, whether to delete it.
func confirmDelete(c *cobra.Command, r *registry.Resource) error {
	in, ok := c.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return errors.New("standard input is not a terminal, so the deletion cannot be confirmed: add --yes to delete without asking")
	}
	out := c.ErrOrStderr()
	locations := "no locations"
	if len(r.Locations) > 0 {
		locations = "locations: " + strings.Join(r.Locations, ", ")
	}
	fmt.Fprintf(out, "resource %s (%s, %s, created by %s on %s)\n", r.Name, r.DType, locations, r.CreatedBy, r.CreatedOn.Format("2006-01-02"))
	fmt.Fprintf(out, "Delete it? Its name will be retired for good. [y/N] ")
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		return errNotConfirmed
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
