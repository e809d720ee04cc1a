// Package cmd is the command line of nbreg: it parses flags, opens the store,
// wires the HTTP server and talks to the administrator at the terminal. It
// holds no SQL and no HTTP handlers; those live in sqlstore and httpapi.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/adrg/xdg"
	"github.com/spf13/cobra"

	"nbreg/pgstore"
	"nbreg/registry"
)

// Exit statuses. Usage mistakes get their own status so scripts can tell a
// typo from a refusal.
const (
	exitFailure = 1
	exitUsage   = 2
)

// dbEnv names the environment variable that sets the database path when
// --db is not given.
const dbEnv = "NBREG_DB"

// Execute runs the command line with the process's arguments and exits with
// its status. It never returns.
func Execute() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status. Errors are
// printed here, once, as "nbreg: <sentence>"; usage is printed only when the
// command line itself was malformed.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	c, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "nbreg: %s\n", errorSentence(err))
	var uerr *usageError
	if errors.As(err, &uerr) || isUnknownCommand(err) {
		if c == nil {
			c = root
		}
		fmt.Fprint(stderr, "\n"+c.UsageString())
		return exitUsage
	}
	return exitFailure
}

// newRootCommand builds the whole command tree. A fresh tree per run keeps
// flag values from leaking between runs in tests.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "nbreg",
		Short: "A name registry for research data",
		Long: `nbreg keeps a lab's registry of resources (stimulus files, recordings and
other data): unique names, the datatype of each, the archives that hold them
and searchable JSON metadata. It serves the neurobank registry protocol, so
the nbank client and existing lab scripts work with it unchanged.

All records live in one SQLite database file. By default it is registry.db
in the nbreg folder of the XDG data directory ($XDG_DATA_HOME/nbreg/, usually
~/.local/share/nbreg/); --db or NBREG_DB chooses another.`,
		Example: `  # start the registry on http://127.0.0.1:8000/neurobank/
  nbreg serve

  # create the first administrator
  nbreg adduser --role admin alice

  # work on another database
  nbreg --db /srv/nbreg/registry.db users
  NBREG_DB=/srv/nbreg/registry.db nbreg users`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("db", "",
		"the SQLite database file, or a PostgreSQL database's URL (postgres:// or postgresql://; the password from the URL, $PGPASSWORD or ~/.pgpass)\n"+
			"(default: $"+dbEnv+", else registry.db in $XDG_DATA_HOME/nbreg/)\n"+
			"e.g. --db /srv/nbreg/registry.db, --db postgres://nbreg@db.lab/registry")
	root.PersistentFlags().Int("db-max-conns", pgstore.DefaultMaxConns,
		"the most connections to open to a PostgreSQL database; requests wait for one when all are busy (e.g. --db-max-conns 32)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: flagError(c, err)}
	})
	root.AddCommand(
		newServeCommand(),
		newMigrateCommand(),
		newAddUserCommand(),
		newPasswdCommand(),
		newUsersCommand(),
		newTokenCommand(),
		newAdminDataTypeCommand(),
		newAdminRenameCommand(),
		newAdminDeleteCommand(),
		newHistoryCommand(),
		newExportCommand(),
		newImportCommand(),
		newBackupCommand(),
		newLoadtestCommand(),
		newVersionCommand(),
		newManCommand(),
	)
	addCompletion(root)
	return root
}

// usageError marks a malformed command line: a bad flag or a wrong number of
// arguments. These, and only these, are followed by the usage text.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// badFlagValue matches pflag's complaint about a value it cannot parse,
// which ends in Go syntax ("strconv.ParseInt: parsing ...").
var badFlagValue = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-\w, )?--([\w-]+)" flag: `)

// flagError rewords pflag's complaint about a flag value in the user's
// terms: what the flag wants.
func flagError(c *cobra.Command, err error) error {
	m := badFlagValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	value, name := m[1], m[2]
	want := "another value"
	if f := c.Flags().Lookup(name); f != nil {
		switch f.Value.Type() {
		case "int":
			want = "a whole number"
		case "bool":
			want = "true or false, after an = sign (--" + name + "=false)"
		}
	}
	return fmt.Errorf("--%s does not take %q: give %s", name, value, want)
}

// isUnknownCommand reports whether err is cobra's complaint about a
// subcommand it does not know, which is a usage mistake too.
func isUnknownCommand(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// exactArgs requires exactly one argument, described as what in the message
// given to a user who forgot it or gave more.
func exactArgs(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return &usageError{err: fmt.Errorf("%s takes exactly one argument, %s, and got %d", c.Name(), what, len(args))}
		}
		return nil
	}
}

// noArgs refuses positional arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{err: fmt.Errorf("%s takes no arguments, but got %q", c.Name(), strings.Join(args, " "))}
	}
	return nil
}

// errorSentence turns err into the one sentence shown to the user. Domain
// errors carry messages written for people; anything else is an error of the
// environment (a file that cannot be opened, a port in use) whose text the
// administrator at this terminal needs to see.
func errorSentence(err error) string {
	msg := err.Error()
	if _, ok := err.(*registry.Error); ok {
		msg = registry.ErrorMessage(err)
	}
	msg = strings.TrimSpace(strings.ReplaceAll(msg, "\n", " "))
	if msg == "" {
		msg = "unknown error"
	}
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

// databasePath returns the database file to use: --db, else $NBREG_DB, else
// registry.db in the XDG data directory, whose folder is created on first use.
func databasePath(c *cobra.Command) (string, error) {
	path, err := c.Flags().GetString("db")
	if err != nil {
		return "", err
	}
	if path == "" {
		path = os.Getenv(dbEnv)
	}
	if path == "" {
		// Only the user's own data directory: xdg.DataFile would fall back
		// to system-wide folders, and a root shell would then put the
		// registry in /usr/local/share without a word.
		dir := filepath.Join(xdg.DataHome, "nbreg")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("cannot create the data directory %s (use --db to choose another place for the database): %w", dir, err)
		}
		path = filepath.Join(dir, "registry.db")
	}
	if pgstore.IsURL(path) {
		return path, nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path, nil
}

// openStore opens the database chosen for c and, when migrate is true,
// applies pending migrations first, noting each on stderr, so that every
// command works on a fresh machine without a separate migrate step.
//
// It returns the database and how messages name it: a file's path, or a
// URL with its password masked.
func openStore(c *cobra.Command, migrate bool) (*database, string, error) {
	path, err := databasePath(c)
	if err != nil {
		return nil, "", err
	}
	maxConns, err := c.Flags().GetInt("db-max-conns")
	if err != nil {
		return nil, "", err
	}
	db, err := openDatabase(c.Context(), path, maxConns)
	if err != nil {
		return nil, "", withDatabase(err, "cannot open database", pgstore.MaskURL(path))
	}
	if migrate {
		applied, err := db.migrate(c.Context())
		if err != nil {
			db.Close()
			return nil, "", withDatabase(err, "cannot bring up to date database", db.where)
		}
		for _, m := range applied {
			fmt.Fprintf(c.ErrOrStderr(), "nbreg: applied migration %s to %s\n", migrationLabel(m), db.where)
		}
	}
	return db, db.where, nil
}

// withDatabase adds the database path to an error of the environment. A
// domain error already says what is wrong in words meant for the user, and
// passes unchanged.
func withDatabase(err error, doing, path string) error {
	if _, ok := err.(*registry.Error); ok {
		return err
	}
	return fmt.Errorf("%s %s: %w", doing, path, err)
}

// migrationLabel names a migration as its file is named: "0001_initial".
func migrationLabel(m migrationRecord) string {
	return fmt.Sprintf("%04d_%s", m.Version, m.Name)
}
