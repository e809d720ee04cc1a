package registry

import (
	"crypto/rand"
	"math/big"
	"unicode/utf8"
)

// Length limits of names, as in the HTTP contract.
const (
	MaxResourceName = 255
	MaxDataTypeName = 32
	MaxArchiveName  = 32

	// DefaultNameLength is the length of names minted for resources
	// created without one.
	DefaultNameLength = 8
)

// IsSlug reports whether s is a non-empty string of ASCII letters, digits,
// underscores and hyphens: the only names the registry accepts.
func IsSlug(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// MsgSameName refuses a rename to the name a record already has.
const MsgSameName = "the new name is the name it already has"

// CheckNewName returns the EINVALID error (field "name") of new as the new
// name of a record called old: blank, longer than max characters, not a
// slug, or old itself (a rename asked for by itself that changes nothing
// is a mistake worth reporting); nil when it will do. Whether another
// record has it is the store's to check.
func CheckNewName(old, new string, max int) error {
	switch {
	case new == "":
		return FieldError(EINVALID, "name", MsgBlank)
	case utf8.RuneCountInString(new) > max:
		return FieldError(EINVALID, "name", MsgTooLong(max))
	case !IsSlug(new):
		return FieldError(EINVALID, "name", MsgSlug)
	case new == old:
		return FieldError(EINVALID, "name", MsgSameName)
	}
	return nil
}

// checkName records the problems of a required slug of at most max characters.
func checkName(p Problems, field, name string, max int) {
	switch {
	case name == "":
		p.Add(field, MsgBlank)
	case utf8.RuneCountInString(name) > max:
		p.Add(field, MsgTooLong(max))
	case !IsSlug(name):
		p.Add(field, MsgSlug)
	}
}

// checkLength records a problem when s is longer than max characters.
func checkLength(p Problems, field, s string, max int) {
	if utf8.RuneCountInString(s) > max {
		p.Add(field, MsgTooLong(max))
	}
}

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// MintName returns a random lowercase base-36 name of n characters drawn
// from crypto/rand. The caller must still check it was never used.
func MintName(n int) string {
	if n <= 0 {
		n = DefaultNameLength
	}
	max := big.NewInt(int64(len(base36)))
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			// crypto/rand does not fail on supported platforms.
			panic("registry: crypto/rand failed: " + err.Error())
		}
		b[i] = base36[v.Int64()]
	}
	return string(b)
}
