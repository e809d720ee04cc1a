package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"nbreg/sqlstore"
)

// Version and Commit name the build. Release builds set them with
//
//	go build -ldflags "-X nbreg/cmd.Version=v1.2.0 -X nbreg/cmd.Commit=abc123"
//
// Left empty, they come from what the Go toolchain recorded in the binary:
// the main module's version (or "devel") and the VCS revision.
var (
	Version string
	Commit  string
)

// build describes the running binary.
type build struct {
	version   string
	commit    string
	goVersion string
}

// buildVersion returns the version and commit of this binary, preferring the
// values set at link time.
func buildVersion() build {
	b := build{version: Version, commit: Commit, goVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.version = info.Main.Version
		}
		if b.commit == "" {
			modified := false
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					b.commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if b.commit != "" && modified {
				b.commit += " (with uncommitted changes)"
			}
		}
	}
	if b.version == "" {
		b.version = "devel"
	}
	if b.commit == "" {
		b.commit = "unknown"
	}
	return b
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of nbreg and of its database schema",
		Long: `Print the version and commit of this nbreg, the Go release it was built
with, and the database schema version it brings (its newest migration).
No database is opened.`,
		Example: `  nbreg version`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			schema, err := schemaVersion(c)
			if err != nil {
				return err
			}
			b := buildVersion()
			out := c.OutOrStdout()
			fmt.Fprintf(out, "nbreg:   %s\n", b.version)
			fmt.Fprintf(out, "commit:  %s\n", b.commit)
			fmt.Fprintf(out, "go:      %s %s/%s\n", b.goVersion, runtime.GOOS, runtime.GOARCH)
			fmt.Fprintf(out, "schema:  %d\n", schema)
			return nil
		},
	}
}

// schemaVersion returns the number of the newest migration this binary
// knows. It asks a scratch database, so that the user's own database is
// neither created nor touched.
func schemaVersion(c *cobra.Command) (int, error) {
	dir, err := os.MkdirTemp("", "nbreg-version-")
	if err != nil {
		return 0, fmt.Errorf("cannot create a scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlstore.Open(filepath.Join(dir, "schema.db"))
	if err != nil {
		return 0, err
	}
	defer store.Close()
	migrations, err := store.MigrationStatus(c.Context())
	if err != nil {
		return 0, err
	}
	newest := 0
	for _, m := range migrations {
		newest = max(newest, m.Version)
	}
	return newest, nil
}
