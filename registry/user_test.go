package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func TestUserValidate(t *testing.T) {
	valid := []string{
		"josé", "Дмитрий", "李小龙", "user@example.org", "a.b+c-d_e", "x", "42", "_", "٣٤", // Arabic-Indic digits
		strings.Repeat("é", registry.MaxUsername), // 300 bytes, 150 characters
	}
	for _, name := range valid {
		u := &registry.User{Username: name, Role: registry.RoleViewer}
		if err := u.Validate(); err != nil {
			t.Errorf("username %q refused: %v", name, err)
		}
	}

	for _, c := range []struct {
		name     string
		username string
		want     string
	}{
		{"Blank", "", registry.MsgBlank},
		{"TooLong", strings.Repeat("é", registry.MaxUsername+1), registry.MsgTooLong(registry.MaxUsername)},
		{"Space", "has space", registry.MsgUsernameChars},
		{"Slash", "slash/", registry.MsgUsernameChars},
		{"TrailingNewline", "bob\n", registry.MsgUsernameChars},
		{"Symbol", "a€b", registry.MsgUsernameChars},
		// Python's \w takes no combining marks: "é" must come composed.
		{"CombiningMark", "jose\u0301", registry.MsgUsernameChars},
		{"InvalidUTF8", "bob\xff", registry.MsgUsernameChars},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := &registry.User{Username: c.username, Role: registry.RoleViewer}
			err := u.Validate()
			if registry.ErrorCode(err) != registry.EINVALID {
				t.Fatalf("Validate() = %v, want an EINVALID error", err)
			}
			want := map[string][]string{"username": {c.want}}
			if diff := cmp.Diff(want, err.(*registry.Error).Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}
