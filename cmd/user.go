package cmd

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"nbreg/registry"
)

func newAddUserCommand() *cobra.Command {
	var role string
	var fromStdin bool
	c := &cobra.Command{
		Use:   "adduser NAME",
		Short: "Create a user who can sign in",
		Long: `Create a user called NAME with a role and a password.

Roles: admin may do everything (including changing a resource's sha1 and
deleting resources), editor may create and change datatypes, archives,
resources and locations, viewer may only read (anyone may read anonymously).

The password is asked for twice at the terminal, without echo, unless
--password-stdin is given. Usernames hold letters, digits and @ . + - _.`,
		Example: `  # create an editor; the password is asked for
  nbreg adduser alice

  # create the first administrator
  nbreg adduser --role admin alice

  # create a read-only user from a script
  printf '%s\n' "$PASSWORD" | nbreg adduser --role viewer --password-stdin robot`,
		Args: exactArgs("the username"),
		RunE: func(c *cobra.Command, args []string) error {
			return addUser(c, args[0], role, fromStdin)
		},
	}
	c.Flags().StringVar(&role, "role", string(registry.RoleEditor), "admin, editor or viewer (e.g. --role admin)")
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, passwordStdinUsage("adduser"))
	return c
}

func addUser(c *cobra.Command, name, roleName string, fromStdin bool) error {
	role, err := registry.ParseRole(roleName)
	if err != nil {
		return err
	}
	u := &registry.User{Username: name, Role: role}
	if err := u.Validate(); err != nil {
		return err
	}
	store, _, err := openStore(c, true)
	if err != nil {
		return err
	}
	defer store.Close()
	// Refuse a taken name before asking for a password that would be wasted.
	if _, err := store.FindUser(c.Context(), name); err == nil {
		return fmt.Errorf("a user named %q already exists (nbreg passwd changes a password)", name)
	} else if registry.ErrorCode(err) != registry.ENOTFOUND {
		return err
	}
	password, err := readPassword(c, fromStdin)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = registry.HashPassword(password); err != nil {
		return err
	}
	if err := store.CreateUser(c.Context(), u); err != nil {
		return err
	}
	fmt.Fprintf(c.OutOrStdout(), "created user %s (%s)\n", u.Username, u.Role)
	return nil
}

func newPasswdCommand() *cobra.Command {
	var fromStdin bool
	c := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Change a user's password",
		Long: `Change the password of the user called NAME. The old password stops working
at once, also on a server running on the same database.

The new password is asked for twice at the terminal, without echo, unless
--password-stdin is given.`,
		Example: `  # change alice's password; it is asked for
  nbreg passwd alice

  # from a script
  printf '%s\n' "$PASSWORD" | nbreg passwd --password-stdin robot`,
		Args: exactArgs("the username"),
		RunE: func(c *cobra.Command, args []string) error {
			return changePassword(c, args[0], fromStdin)
		},
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, passwordStdinUsage("passwd"))
	return c
}

func changePassword(c *cobra.Command, name string, fromStdin bool) error {
	store, _, err := openStore(c, true)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := requireUser(c.Context(), store, name); err != nil {
		return err
	}
	password, err := readPassword(c, fromStdin)
	if err != nil {
		return err
	}
	hash, err := registry.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := store.UpdateUser(c.Context(), name, registry.UserUpdate{PasswordHash: &hash}); err != nil {
		return userError(err, name)
	}
	fmt.Fprintf(c.OutOrStdout(), "changed the password of %s\n", name)
	return nil
}

func newUsersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "users",
		Short: "List the users",
		Long:  `List every user with their role and when they were created, ordered by username.`,
		Example: `  nbreg users
  nbreg users --db /srv/nbreg/registry.db`,
		Args: noArgs,
		RunE: listUsers,
	}
}

func listUsers(c *cobra.Command, _ []string) error {
	store, _, err := openStore(c, true)
	if err != nil {
		return err
	}
	defer store.Close()
	users, err := store.ListUsers(c.Context())
	if err != nil {
		return err
	}
	if len(users) == 0 {
		fmt.Fprintln(c.ErrOrStderr(), "nbreg: no users yet; create one with: nbreg adduser --role admin NAME")
		return nil
	}
	w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USERNAME\tROLE\tCREATED")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\n", u.Username, u.Role, u.CreatedOn.Local().Format(time.DateTime))
	}
	return w.Flush()
}

func newTokenCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "token NAME",
		Short: "Issue an API token for a user",
		Long: `Issue a new API token for the user called NAME and print it. Only a hash of
the token is kept, so it is shown this once: store it where the script that
uses it can read it.

A client sends the token in a header, "Authorization: Token KEY" (or
"Authorization: Bearer KEY"), and acts as NAME with NAME's role. Issuing a new
token does not revoke earlier ones.`,
		Example: `  # issue a token for the user robot
  nbreg token robot

  # keep it in a file only you can read (the note goes to stderr)
  nbreg token robot > ~/.nbreg-token && chmod 600 ~/.nbreg-token

  # use it
  curl -H "Authorization: Token $(cat ~/.nbreg-token)" ...`,
		Args: exactArgs("the username"),
		RunE: func(c *cobra.Command, args []string) error { return issueToken(c, args[0]) },
	}
}

func issueToken(c *cobra.Command, name string) error {
	store, _, err := openStore(c, true)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := requireUser(c.Context(), store, name); err != nil {
		return err
	}
	key, hash := registry.NewToken()
	if err := store.CreateToken(c.Context(), name, hash); err != nil {
		return userError(err, name)
	}
	fmt.Fprintf(c.ErrOrStderr(), "nbreg: new API token for %s; it will not be shown again:\n", name)
	fmt.Fprintln(c.OutOrStdout(), key)
	return nil
}

// requireUser returns an error naming the user when there is no user
// called name.
func requireUser(ctx context.Context, store registry.Store, name string) error {
	_, err := store.FindUser(ctx, name)
	return userError(err, name)
}

// userError says which user was not found, where the store only says "Not
// found.".
func userError(err error, name string) error {
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return fmt.Errorf("there is no user named %q (nbreg users lists them)", name)
	}
	return err
}
