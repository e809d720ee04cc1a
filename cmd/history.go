package cmd

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"nbreg/registry"
)

func newHistoryCommand() *cobra.Command {
	var asJSON bool
	var limit int
	c := &cobra.Command{
		Use:   "history NAME",
		Short: "Show every change made to a resource",
		Long: `Show the history of the resource called NAME, newest first: its creation,
each metadata key, sha1 and datatype change (with the value before and
after), locations added and removed, renames and its deletion, each with
who made it and when. An old name of a renamed resource shows the
resource's history; a deleted resource keeps its history.

The same list is served at resources/NAME/history/.`,
		Example: `  nbreg history heengei8

  # the last five changes, as JSON lines
  nbreg history --limit 5 --json heengei8`,
		Args: exactArgs("the resource name"),
		RunE: func(c *cobra.Command, args []string) error {
			store, _, err := openStore(c, true)
			if err != nil {
				return err
			}
			defer store.Close()
			cs, err := store.History(c.Context(), args[0], registry.HistoryFilter{Limit: limit})
			if registry.ErrorCode(err) == registry.ENOTFOUND {
				return fmt.Errorf("there is no resource named %q, and none ever had that name", args[0])
			} else if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetEscapeHTML(false)
				for _, ch := range cs {
					if err := enc.Encode(historyLine(ch)); err != nil {
						return err
					}
				}
				return nil
			}
			if len(cs) == 0 {
				fmt.Fprintf(out, "no changes recorded for %s\n", args[0])
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TIME\tUSER\tACTION\tFIELD\tOLD\tNEW")
			for _, ch := range cs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ch.Time.Format("2006-01-02 15:04:05Z"), orDash(ch.User), ch.Action,
					orDash(ch.Field), shortJSON(ch.Old), shortJSON(ch.New))
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object a line, as the API does")
	c.Flags().IntVar(&limit, "limit", 0, "show only the newest N changes (e.g. --limit 10)")
	return c
}

// historyLine is a change as the API shows it.
func historyLine(c registry.Change) map[string]any {
	value := func(v json.RawMessage) any {
		if v == nil {
			return nil
		}
		return v
	}
	return map[string]any{"resource": c.Resource, "action": c.Action, "field": c.Field, "old": value(c.Old),
		"new": value(c.New), "user": c.User, "time": c.Time.UTC().Format("2006-01-02T15:04:05.000000Z")}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortJSON shows a value in a table cell: whole when short, cut otherwise.
func shortJSON(v json.RawMessage) string {
	if v == nil {
		return "-"
	}
	s := strings.Join(strings.Fields(string(v)), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}
