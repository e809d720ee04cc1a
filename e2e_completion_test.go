package main_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompletion(t *testing.T) {
	h := newHome(t)

	t.Run("InHelp", func(t *testing.T) {
		r := h.mustRun(t, "", "--help")
		if !strings.Contains(r.stdout, "\n  completion ") {
			t.Errorf("nbreg --help does not list completion:\n%s", r.stdout)
		}
	})

	t.Run("Scripts", func(t *testing.T) {
		for shell, want := range map[string]string{
			"bash": "__start_nbreg",
			"zsh":  "#compdef nbreg",
			"fish": "complete -c nbreg ",
		} {
			r := h.mustRun(t, "", "completion", shell)
			if !strings.Contains(r.stdout, want) {
				t.Errorf("nbreg completion %s lacks %q:\n%s", shell, want, r.stdout)
			}
		}
	})

	// What the shells' scripts ask the binary: the candidates, one a line
	// with an optional tab and description, then :DIRECTIVE.
	complete := func(t *testing.T, args ...string) []string {
		t.Helper()
		r := h.mustRun(t, "", append([]string{"__complete"}, args...)...)
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if strings.HasPrefix(line, ":") {
				break
			}
			candidate, _, _ := strings.Cut(line, "\t")
			got = append(got, candidate)
		}
		return got
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"Command", []string{"ser"}, []string{"serve"}},
		{"Commands", []string{"adm"}, []string{"admin-datatype", "admin-delete", "admin-rename"}},
		{"Flag", []string{"serve", "--tr"}, []string{"--trust-proxy"}},
		{"PersistentFlag", []string{"users", "--db-m"}, []string{"--db-max-conns"}},
		{"FlagValue", []string{"serve", "--sendfile", ""}, []string{"direct", "nginx", "apache"}},
		{"Role", []string{"adduser", "--role", ""}, []string{"admin", "editor", "viewer"}},
		{"Shell", []string{"completion", "z"}, []string{"zsh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, complete(t, tc.args...)); diff != "" {
				t.Errorf("nbreg __complete %s (-want +got):\n%s", strings.Join(tc.args, " "), diff)
			}
		})
	}

	// The bash script itself, as bash runs it on a tab. bash-completion's
	// word splitting is stood in for by the plain split of COMP_WORDS.
	t.Run("Bash", func(t *testing.T) {
		if _, err := exec.LookPath("bash"); err != nil {
			t.Skip("bash is not installed")
		}
		script := `
_get_comp_words_by_ref() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
source <("$NBREG" completion bash)
COMP_WORDS=("$NBREG" serve --sendfile ng); COMP_CWORD=3
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
__start_nbreg 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"
`
		c := exec.Command("bash", "-c", script)
		c.Env = append(h.env, "NBREG="+nbregBinary)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("bash: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != "nginx" {
			t.Errorf("bash completes nbreg serve --sendfile ng to %q, want nginx", got)
		}
	})
}
