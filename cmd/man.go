package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand writes the manual pages, one per command, made from the same
// text as --help. It is hidden: the pages are generated into docs/man/ of
// the repository (go generate) and shipped in the release archives.
func newManCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "Write the manual pages of nbreg into a directory",
		Long: `Write a manual page for nbreg and for each of its commands (nbreg.1,
nbreg-serve.1, ...) into DIR, replacing the nbreg pages already there. The
pages carry the month of SOURCE_DATE_EPOCH, or else the current month.`,
		Example: `  nbreg man docs/man
  nbreg man /usr/local/share/man/man1`,
		Hidden: true,
		Args:   exactArgs("the directory to write into"),
		RunE: func(c *cobra.Command, args []string) error {
			return writeManPages(c.Root(), args[0])
		},
	}
}

// writeManPages writes the pages of root's tree into dir, first removing
// the nbreg pages in it so that a command that is gone leaves no page.
func writeManPages(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, root.Name()+"*.1"))
	if err != nil {
		return err
	}
	for _, page := range old {
		if err := os.Remove(page); err != nil {
			return fmt.Errorf("cannot replace the manual pages in %s: %w", dir, err)
		}
	}
	// cobra would end every page with the time it was generated, making
	// every regeneration a change.
	var untag func(*cobra.Command)
	untag = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		for _, sub := range c.Commands() {
			untag(sub)
		}
	}
	untag(root)
	header := &doc.GenManHeader{Section: "1", Source: "nbreg", Manual: "nbreg manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("cannot write the manual pages into %s: %w", dir, err)
	}
	return nil
}
