package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nbreg/registry"
)

// passwordStdinUsage is the help text of --password-stdin for the command
// called command.
func passwordStdinUsage(command string) string {
	return fmt.Sprintf("read the password from the first line of standard input instead of asking (e.g. echo \"$PASS\" | nbreg %s --password-stdin alice)", command)
}

// readPassword gets a new password: the first line of stdin when fromStdin,
// otherwise typed twice at the terminal without echo.
func readPassword(c *cobra.Command, fromStdin bool) (string, error) {
	if fromStdin {
		return readPasswordLine(c.InOrStdin())
	}
	in, ok := c.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("standard input is not a terminal, so the password cannot be asked for: use --password-stdin")
	}
	stderr := c.ErrOrStderr()
	first, err := promptPassword(in, stderr, "Password: ")
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errors.New(registry.MsgPasswordEmpty)
	}
	second, err := promptPassword(in, stderr, "Password (again): ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New(registry.MsgPasswordMismatch)
	}
	return first, nil
}

// readPasswordLine returns the first line of r without its line ending. A
// password may hold spaces, so nothing else is trimmed.
func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("cannot read the password from standard input: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("the password read from standard input is empty")
	}
	return line, nil
}

// promptPassword asks for a password on the terminal in without echoing
// it. An interrupt while asking restores the terminal before exiting, or
// the shell would be left without echo.
func promptPassword(in *os.File, prompt io.Writer, text string) (string, error) {
	fd := int(in.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("cannot ask for a password: %w", err)
	}
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	done := make(chan struct{})
	defer func() {
		signal.Stop(interrupted)
		close(done)
	}()
	go func() {
		select {
		case <-interrupted:
			term.Restore(fd, state)
			fmt.Fprintln(prompt)
			os.Exit(130)
		case <-done:
		}
	}()

	fmt.Fprint(prompt, text)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", fmt.Errorf("cannot read the password: %w", err)
	}
	return string(b), nil
}
