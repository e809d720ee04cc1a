// Command nbreg is a name registry for research data: one binary with an
// embedded SQLite database that serves the neurobank registry protocol. See
// README.md, or run nbreg --help.
package main

import "nbreg/cmd"

// The manual pages in docs/man are made from the commands' help; a test
// fails when they fall behind it.
//go:generate go run . man docs/man

func main() {
	cmd.Execute()
}
