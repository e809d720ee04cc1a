package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is what a user may do.
type Role string

// The roles, from most to least powerful.
const (
	RoleAdmin  Role = "admin"  // everything, including sha1 changes and deletes
	RoleEditor Role = "editor" // create and change datatypes, archives, resources, locations
	RoleViewer Role = "viewer" // read only
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleEditor, RoleViewer:
		return r, nil
	}
	return "", FieldError(EINVALID, "role", fmt.Sprintf("%q is not a role: use admin, editor or viewer", s))
}

// CanWrite reports whether the role may create and change records.
func (r Role) CanWrite() bool { return r == RoleAdmin || r == RoleEditor }

// IsAdmin reports whether the role may do everything.
func (r Role) IsAdmin() bool { return r == RoleAdmin }

// MaxUsername is the longest username accepted, in characters, as in Django.
const MaxUsername = 150

// MsgUsernameChars refuses a username with a character Django would refuse.
const MsgUsernameChars = "can only contain letters, numbers and @/./+/-/_"

// User is a person or script that signs in to change the registry.
type User struct {
	Username     string
	Role         Role
	PasswordHash string // see HashPassword; "" means password sign-in is off
	CreatedOn    time.Time
}

// Validate returns an EINVALID error listing every broken rule, or nil.
// Usernames follow Django's UnicodeUsernameValidator, so that every user of
// a django-neurobank moves in under the name they had there.
func (u *User) Validate() error {
	p := Problems{}
	switch {
	case u.Username == "":
		p.Add("username", MsgBlank)
	case utf8.RuneCountInString(u.Username) > MaxUsername:
		// Django's max_length counts characters; "é" is one, not two bytes.
		p.Add("username", MsgTooLong(MaxUsername))
	case strings.IndexFunc(u.Username, isNotUsernameRune) >= 0:
		p.Add("username", MsgUsernameChars)
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		p.Add("role", err.Error())
	}
	return p.Err()
}

// isNotUsernameRune reports whether c is outside Django's username alphabet:
// Python's \w, which takes letters and numbers of every script and "_", and
// ".@+-". Invalid UTF-8 reaches here as U+FFFD, a symbol, and is refused.
func isNotUsernameRune(c rune) bool {
	return !unicode.IsLetter(c) && !unicode.IsNumber(c) && !strings.ContainsRune("_.@+-", c)
}

// UserUpdate lists the user fields to change; nil means unchanged.
type UserUpdate struct {
	PasswordHash *string
	Role         *Role
}

// Messages refusing a new password, the same at the terminal and in the
// browser.
const (
	MsgPasswordEmpty    = "the password may not be empty"
	MsgPasswordMismatch = "the passwords do not match"
)

// NewToken returns a fresh API token key, to be shown once to its owner,
// and the hash under which the store keeps it.
func NewToken() (key, hash string) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic("registry: crypto/rand failed: " + err.Error())
	}
	key = hex.EncodeToString(b)
	return key, TokenHash(key)
}

// TokenHash is the stored form of a token key. Keys carry 160 random bits,
// so a fast hash suffices: guessing is hopeless either way.
func TokenHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
