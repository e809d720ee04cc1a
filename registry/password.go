package registry

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
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

// Bounds on the parameters of a stored hash. Sign-in must never let one
// record run the server out of memory, so memory-hard hashes needing more
// than maxHashMemory are refused; Django's defaults need a tenth of it.
const (
	maxHashMemory = 1 << 30 // bytes
	maxArgonTime  = 16
	minArgonKey   = 4 // the shortest tag Argon2 defines
	maxArgonKey   = 256
	scryptKeyLen  = 64 // Django's ScryptPasswordHasher always derives 64 bytes
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

// CheckPassword reports whether password matches hash. It understands every
// hasher in Django's default PASSWORD_HASHERS, in Django's own encodings, so
// that users imported from a django-neurobank sign in with their passwords:
//
//   - pbkdf2_sha256$<iterations>$<salt>$<base64 key>, at any iteration count
//   - pbkdf2_sha1$<iterations>$<salt>$<base64 key>
//   - argon2$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, which
//     HashPassword makes, and argon2$argon2i$v=19$... from older Djangos
//   - bcrypt_sha256$<bcrypt hash of the hex SHA-256 digest of the password>
//   - bcrypt$<bcrypt hash>
//   - scrypt$<N>$<salt>$<r>$<p>$<base64 key>
//
// Keys are compared in constant time. Nothing matches an empty hash,
// Django's unusable password ("!..."), another or a malformed encoding,
// argon2d or argon2 before version 19 (which golang.org/x/crypto cannot
// compute), or a memory-hard hash needing more than 1 GiB of memory.
func CheckPassword(hash, password string) bool {
	algorithm, encoded, _ := strings.Cut(hash, "$")
	switch algorithm {
	case "pbkdf2_sha256":
		return checkPBKDF2(sha256.New, encoded, password)
	case "pbkdf2_sha1":
		return checkPBKDF2(sha1.New, encoded, password)
	case "argon2":
		return checkArgon2(encoded, password)
	case "bcrypt_sha256":
		// Django hashes first so that bcrypt sees all of a long password,
		// not only its first 72 bytes.
		digest := sha256.Sum256([]byte(password))
		return checkBcrypt(encoded, hex.EncodeToString(digest[:]))
	case "bcrypt":
		return checkBcrypt(encoded, password)
	case "scrypt":
		return checkScrypt(encoded, password)
	}
	return false
}

func checkPBKDF2(newHash func() hash.Hash, encoded, password string) bool {
	// <iterations>$<salt>$<key>
	fields := strings.Split(encoded, "$")
	if len(fields) != 3 || fields[1] == "" {
		return false
	}
	// No upper bound: the hash comes from the admin's own import, and a high
	// count costs time, not memory.
	iterations, ok := parseCount(fields[0])
	if !ok {
		return false
	}
	// Django derives exactly one digest's worth of key and compares encoded
	// strings, so a key of any other length never matched there either.
	size := newHash().Size()
	want, ok := decodeKey(base64.StdEncoding, fields[2])
	if !ok || len(want) != size {
		return false
	}
	got, err := pbkdf2.Key(newHash, password, []byte(fields[1]), iterations, size)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

func checkArgon2(encoded, password string) bool {
	// <variant>$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>
	fields := strings.Split(encoded, "$")
	if len(fields) != 5 || fields[1] != "v="+strconv.Itoa(argon2.Version) {
		return false
	}
	var derive func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	switch fields[0] {
	case "argon2id":
		derive = argon2.IDKey
	case "argon2i":
		derive = argon2.Key
	default:
		return false
	}
	// x/crypto takes at most 255 lanes.
	memory, time, threads, ok := parseArgon2Params(fields[2])
	if !ok || memory > maxHashMemory/1024 || time > maxArgonTime || threads > 255 {
		return false
	}
	salt, ok := decodeKey(base64.RawStdEncoding, fields[3])
	if !ok {
		return false
	}
	want, ok := decodeKey(base64.RawStdEncoding, fields[4])
	if !ok || len(want) < minArgonKey || len(want) > maxArgonKey {
		return false
	}
	got := derive([]byte(password), salt, uint32(time), uint32(memory), uint8(threads), uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// parseArgon2Params reads "m=<KiB>,t=<passes>,p=<lanes>", the order in which
// the argon2 library Django uses writes them.
func parseArgon2Params(s string) (memory, time, threads int, ok bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var values [3]int
	for i, name := range []string{"m=", "t=", "p="} {
		digits, found := strings.CutPrefix(parts[i], name)
		if !found {
			return 0, 0, 0, false
		}
		if values[i], ok = parseCount(digits); !ok {
			return 0, 0, 0, false
		}
	}
	return values[0], values[1], values[2], true
}

func checkBcrypt(encoded, password string) bool {
	// bcrypt's own comparison is constant-time and refuses costs it does not
	// define; like an iteration count, a high cost only costs time.
	return bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) == nil
}

func checkScrypt(encoded, password string) bool {
	// <N>$<salt>$<r>$<p>$<key>
	fields := strings.Split(encoded, "$")
	if len(fields) != 5 || fields[1] == "" {
		return false
	}
	n, okN := parseCount(fields[0])
	r, okR := parseCount(fields[2])
	p, okP := parseCount(fields[3])
	if !okN || !okR || !okP {
		return false
	}
	// scrypt holds N blocks of 128·r bytes in its table and p more as its
	// input; written as a division so that no product can overflow.
	blocks := maxHashMemory / 128 / r
	if n > blocks || p > blocks-n {
		return false
	}
	want, ok := decodeKey(base64.StdEncoding, fields[4])
	if !ok || len(want) != scryptKeyLen {
		return false
	}
	got, err := scrypt.Key([]byte(password), []byte(fields[1]), n, r, p, scryptKeyLen)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// parseCount reads a positive decimal number as Django writes one. Django
// verifies by re-encoding and comparing strings, so it never accepted "+5",
// "05" or " 5"; neither do we.
func parseCount(s string) (int, bool) {
	if s == "" || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// decodeKey decodes base64 as Django writes it. The strict decoder refuses
// stray padding bits and we refuse the line breaks base64 would skip, so a
// key has one spelling only, as it had in Django's string comparison.
func decodeKey(enc *base64.Encoding, s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := enc.Strict().DecodeString(s)
	return b, err == nil
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
