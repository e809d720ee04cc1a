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

// Version, Commit and Date name the build. Release builds may set them with
//
//	go build -ldflags "-X nbreg/cmd.Version=v1.2.0 -X nbreg/cmd.Commit=abc123 -X nbreg/cmd.Date=2026-01-02T03:04:05Z"
//
// Left empty, they come from what the Go toolchain recorded in the binary:
// the main module's version (or "devel"), and the revision, commit time and
// state of the git checkout it was built in. The toolchain records the
// checkout only for go build and go install (not go run, not go test), and
// only when stamping is on: -buildvcs=false, on the command line or in
// GOFLAGS (see go env GOFLAGS), turns it off.
var (
	Version string
	Commit  string
	Date    string
)

// unrecorded is what version prints for a commit or date the build did not
// record, with the reason it usually has.
const unrecorded = "unknown (not recorded: built outside a git checkout, by go run, or with -buildvcs=false)"

// build describes the running binary.
type build struct {
	version   string
	commit    string
	date      string
	goVersion string
}

// buildVersion returns the version, commit and commit date of this binary,
// preferring the values set at link time.
func buildVersion() build {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(info, Version, Commit, Date)
}

// describeBuild combines what the toolchain recorded in info (which may be
// nil) with the values set at link time, which win where given.
func describeBuild(info *debug.BuildInfo, version, commit, date string) build {
	b := build{version: version, commit: commit, date: date, goVersion: runtime.Version()}
	if info != nil {
		if b.version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.version = info.Main.Version
		}
		var revision, revisionTime string
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				revisionTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		// The recorded date belongs to the recorded revision; a commit set
		// at link time is another revision, whose date only the link can say.
		if b.commit == "" {
			b.commit = revision
			if revision != "" && modified {
				b.commit += " (with uncommitted changes)"
			}
			if b.date == "" {
				b.date = revisionTime
			}
		}
	}
	if b.version == "" {
		b.version = "devel"
	}
	if b.commit == "" {
		b.commit = unrecorded
	}
	if b.date == "" {
		b.date = "unknown"
	}
	return b
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of nbreg and of its database schema",
		Long: `Print the version of this nbreg, the git commit it was built from and
that commit's date (UTC), the Go release it was built with, and the database
schema version it brings (its newest migration). No database is opened.

The commit is marked "(with uncommitted changes)" when the checkout it was
built in differed from it. Binaries built by go run, or outside a git
checkout, or with -buildvcs=false (often set in GOFLAGS: see go env GOFLAGS),
do not know their commit; build with go build or go install in a git
checkout, or use a release.`,
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
			fmt.Fprintf(out, "date:    %s\n", b.date)
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
