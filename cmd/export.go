package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nbreg/registry"
	"nbreg/transfer"
)

func newExportCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export",
		Short: "Write the whole registry as JSON lines",
		Long: `Write the whole registry to standard output (or --output FILE) as JSON
lines: a header line with the format version and counts, then one record a
line: datatypes, archives, users (with their password hashes and the
hashes of their API tokens), retired names (so that they stay retired),
resources with metadata and locations, and every resource's history.

The export is one consistent snapshot, taken while a server may be writing.
Exporting the same registry twice gives the same bytes, and
"nbreg import" of an export gives back the same registry. The file holds
password hashes: keep it private (--output writes it readable by you only).`,
		Example: `  nbreg export > registry.jsonl
  nbreg export --output /backup/registry-$(date +%F).jsonl

  # move a registry to another machine
  nbreg export | ssh newhost nbreg import -`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			store, _, err := openStore(c, true)
			if err != nil {
				return err
			}
			defer store.Close()
			if output == "" || output == "-" {
				// A bar would be drawn among the records on a terminal.
				var progress transfer.Progress
				if out, ok := c.OutOrStdout().(*os.File); !ok || !term.IsTerminal(int(out.Fd())) {
					progress = progressBar(c, "exporting")
				}
				_, err := transfer.Export(c.Context(), store, c.OutOrStdout(), progress)
				return err
			}
			return exportToFile(c, store, output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output; it is replaced only once the export is complete (e.g. -o registry.jsonl)")
	return c
}

// exportToFile writes the export next to path and moves it there once
// complete, so that a failed export never leaves half a file behind.
func exportToFile(c *cobra.Command, store registry.Exporter, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cannot write the export: %w", err)
	}
	defer os.Remove(f.Name())
	counts, err := transfer.Export(c.Context(), store, f, progressBar(c, "exporting"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cannot write the export: %w", err)
	}
	fmt.Fprintf(c.ErrOrStderr(), "exported %d datatypes, %d archives, %d users, %d resources, %d history entries and %d retired names to %s\n",
		counts.DataTypes, counts.Archives, counts.Users, counts.Resources, counts.Changes, counts.RetiredNames, path)
	return nil
}

// progressBar returns a Progress that draws a bar on standard error when it
// is a terminal, and nil (silence) otherwise: logs and pipes get no
// control characters.
func progressBar(c *cobra.Command, what string) func(done, total int64) {
	stderr, ok := c.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(stderr.Fd())) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		if total <= 0 {
			total = -1 // not known yet: the bar spins until it is
		}
		if bar != nil && total != bar.GetMax64() {
			bar.ChangeMax64(total)
		}
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(),
				progressbar.OptionSetItsString("records"),
				progressbar.OptionShowIts(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		bar.Set64(done)
		if total >= 0 && done >= total {
			bar.Finish()
		}
	}
}
