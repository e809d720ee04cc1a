package cmd

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// envPrefix starts the name of every environment variable that stands for
// a flag: --trust-proxy is NBREG_TRUST_PROXY.
const envPrefix = "NBREG_"

// envName is the environment variable that stands for the flag called name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// announceEnvironment adds its variable to the help of every flag in fs,
// so that --help lists both spellings side by side.
func announceEnvironment(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}

// flagsFromEnvironment gives each flag of fs that the command line left
// out the value of its environment variable, when that is set and not
// empty: a service manager's settings, which the command line overrides.
// skip names flags that read their variable themselves. It returns the
// flags set this way, so that later refusals can name the variable the
// administrator actually wrote.
func flagsFromEnvironment(fs *pflag.FlagSet, skip ...string) (map[string]bool, error) {
	fromEnv := map[string]bool{}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || slices.Contains(skip, f.Name) {
			return
		}
		name := envName(f.Name)
		value, ok := os.LookupEnv(name)
		if !ok || value == "" {
			return
		}
		if f.Value.Set(value) != nil {
			err = fmt.Errorf("%s does not take %q: give %s", name, value, valueWanted(f))
			return
		}
		fromEnv[f.Name] = true
	})
	return fromEnv, err
}

// valueWanted says, in a user's words, what kind of value f takes.
func valueWanted(f *pflag.Flag) string {
	switch f.Value.Type() {
	case "int":
		return "a whole number"
	case "bool":
		return "true or false"
	case "duration":
		return "a duration such as 5s or 1m30s"
	}
	return "another value"
}
