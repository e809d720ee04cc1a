package registry

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new password hashes: argon2id with the memory and time cost
// recommended for interactive sign-in.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns a salted argon2id hash of password in the encoding
// Django uses ("argon2$argon2id$v=19$m=...,t=...,p=...$salt$hash"), so that
// exported users remain usable by Django too.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", FieldError(EINVALID, "password", MsgBlank)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("argon2$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash. It understands the
// hashes HashPassword makes and Django's pbkdf2_sha256 hashes with any
// iteration count, and compares in constant time. A malformed or empty hash
// matches nothing.
func CheckPassword(hash, password string) bool {
	switch {
	case strings.HasPrefix(hash, "argon2$"):
		return checkArgon2(hash, password)
	case strings.HasPrefix(hash, "pbkdf2_sha256$"):
		return checkPBKDF2(hash, password)
	}
	return false
}

func checkArgon2(hash, password string) bool {
	// argon2 $ argon2id $ v=19 $ m=..,t=..,p=.. $ salt $ key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	// Refuse parameters that would let a stored hash exhaust the server.
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 256 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

func checkPBKDF2(hash, password string) bool {
	// pbkdf2_sha256 $ iterations $ salt $ base64(key)
	parts := strings.Split(hash, "$")
	if len(parts) != 4 {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter <= 0 || iter > 10_000_000 {
		return false
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(want) == 0 || len(want) > 256 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, []byte(parts[2]), iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// DjangoPBKDF2 returns a Django pbkdf2_sha256 hash of password; it exists so
// that tests and fixtures can make hashes as Django does.
func DjangoPBKDF2(password, salt string, iterations int) string {
	key, err := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, sha256.Size)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", iterations, salt, base64.StdEncoding.EncodeToString(key))
}
