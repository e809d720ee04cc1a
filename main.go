// Command nbreg is a name registry for research data: one binary with an
// embedded SQLite database that serves the neurobank registry protocol. See
// README.md, or run nbreg --help.
package main

import "nbreg/cmd"

func main() {
	cmd.Execute()
}
