package cmd

import (
	"github.com/spf13/cobra"

	"nbreg/registry"
)

// flagChoices lists, per command and flag, the only values the flag takes,
// so that the shell offers them after the flag.
var flagChoices = []struct {
	command, flag string
	choices       []string
}{
	{"serve", "sendfile", []string{"direct", "nginx", "apache"}},
	{"adduser", "role", []string{string(registry.RoleAdmin), string(registry.RoleEditor), string(registry.RoleViewer)}},
	{"admin-rename", "kind", []string{"resource", "archive", "datatype"}},
}

// addCompletion gives root cobra's completion command (nbreg completion
// bash|zsh|fish|powershell), with examples like every other command's, and
// teaches the shell the fixed values of flags.
func addCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	examples := map[string]string{
		"completion": `  # bash, in this shell, then for every new one
  source <(nbreg completion bash)
  nbreg completion bash > /etc/bash_completion.d/nbreg

  # zsh, fish
  nbreg completion zsh > "${fpath[1]}/_nbreg"
  nbreg completion fish > ~/.config/fish/completions/nbreg.fish`,
		"bash":       "  source <(nbreg completion bash)\n  nbreg completion bash > /etc/bash_completion.d/nbreg",
		"zsh":        "  nbreg completion zsh > \"${fpath[1]}/_nbreg\"",
		"fish":       "  nbreg completion fish > ~/.config/fish/completions/nbreg.fish",
		"powershell": "  nbreg completion powershell | Out-String | Invoke-Expression",
	}
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = examples["completion"]
		for _, shell := range c.Commands() {
			shell.Example = examples[shell.Name()]
		}
	}

	for _, fc := range flagChoices {
		c, _, err := root.Find([]string{fc.command})
		if err != nil || c == root || c.Flags().Lookup(fc.flag) == nil {
			continue
		}
		// Only fails for a flag already given a completion.
		_ = c.RegisterFlagCompletionFunc(fc.flag, cobra.FixedCompletions(fc.choices, cobra.ShellCompDirectiveNoFileComp))
	}
}
