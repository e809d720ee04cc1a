package registry_test

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"nbreg/registry"
)

func TestPassword(t *testing.T) {
	hash, err := registry.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "argon2$argon2id$v=19$") {
		t.Errorf("hash %q is not in Django's argon2 encoding", hash)
	}
	if !registry.CheckPassword(hash, "correct horse") {
		t.Error("the right password was refused")
	}
	if registry.CheckPassword(hash, "correct horse ") {
		t.Error("a wrong password was accepted")
	}
	again, _ := registry.HashPassword("correct horse")
	if again == hash {
		t.Error("two hashes of one password are equal: no salt")
	}
	if _, err := registry.HashPassword(""); registry.ErrorCode(err) != registry.EINVALID {
		t.Errorf("empty password: %v", err)
	}
}

// djangoHashes were all written by Django. Those without a note come from
// Django's own test suite (tests/auth_tests/test_hashers.py), which fixes
// them for known passwords. Its bcrypt tests draw a random salt, so the
// bcrypt ones were made with make_password of Django 3.2.25 and bcrypt
// 3.2.2, at the lowest cost to keep the race detector quick; their encoding
// is the same in Django 4 and 5.
var djangoHashes = []struct {
	name     string
	hash     string
	password string
	tampered []string // the hash with one thing changed, in a well-formed way
}{
	{"PBKDF2SHA256", "pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=", "lètmein", []string{
		"pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWQxi5ww0uuAuAnKgC45eudxro7c=",
		"pbkdf2_sha256$390001$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=",
		"pbkdf2_sha256$390000$seasalt2$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c=",
	}},
	{"PBKDF2SHA1", "pbkdf2_sha1$390000$seasalt2$aDapRanzW8aHTz97v2TcfHzWD+I=", "lètmein", []string{
		"pbkdf2_sha1$390000$seasalt2$aDapRanzW8aHTz97v2UcfHzWD+I=",
		"pbkdf2_sha1$390000$seasalt$aDapRanzW8aHTz97v2TcfHzWD+I=",
		"pbkdf2_sha256$390000$seasalt2$aDapRanzW8aHTz97v2TcfHzWD+I=",
	}},
	// Django's default argon2 parameters: 100 MiB, 2 passes, 8 lanes.
	{"Argon2id", "argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCAUXRhJXCXdw", "secret", []string{
		"argon2$argon2id$v=19$m=102400,t=2,p=8$Y041dExhNkljRUUy$TMa6A8fPJhCBUXRhJXCXdw",
	}},
	// Written by Django before 3.2 made argon2id its default.
	{"Argon2i", "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", "secret", []string{
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs6R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdXNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=2,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=1,p=2$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
	}},
	{"BCryptSHA256", "bcrypt_sha256$$2b$04$5Ld59YBkYNXPK.u1icD.s.GfM7Zk1pbiJiw1glsT1M5ValAtI0.ru", "lètmein", []string{
		"bcrypt_sha256$$2b$04$5Ld59YBkYNXPK.u1icD.s.GfM7Zk1pbiJiw1glsT1M5WalAtI0.ru",
		"bcrypt_sha256$$2b$04$5Ld59YBkYNXPK.u2icD.s.GfM7Zk1pbiJiw1glsT1M5ValAtI0.ru",
		"bcrypt_sha256$$2b$05$5Ld59YBkYNXPK.u1icD.s.GfM7Zk1pbiJiw1glsT1M5ValAtI0.ru",
		// The digest, not the password, went into bcrypt.
		"bcrypt$$2b$04$5Ld59YBkYNXPK.u1icD.s.GfM7Zk1pbiJiw1glsT1M5ValAtI0.ru",
	}},
	{"BCrypt", "bcrypt$$2b$04$9wx9QekUcZ/VpcmHvtRECue9dt08j3F42IImCKOTZ3fBsXBAZBy7C", "lètmein", []string{
		"bcrypt$$2b$04$9wx9QekUcZ/VpcmHvtRECue9dt08j3F42IImCLOTZ3fBsXBAZBy7C",
		"bcrypt$$2b$04$9wx9QekUcZ/VpcmHvtRDCue9dt08j3F42IImCKOTZ3fBsXBAZBy7C",
		"bcrypt_sha256$$2b$04$9wx9QekUcZ/VpcmHvtRECue9dt08j3F42IImCKOTZ3fBsXBAZBy7C",
	}},
	{"Scrypt", "scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==", "lètmein", []string{
		"scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIHxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
		"scrypt$16384$seasalT$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
		// r and p trade places: the fields are read in Django's order.
		"scrypt$16384$seasalt$1$8$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==",
	}},
}

func TestCheckPasswordDjango(t *testing.T) {
	for _, c := range djangoHashes {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !registry.CheckPassword(c.hash, c.password) {
				t.Errorf("the right password was refused by %s", c.hash)
			}
			if registry.CheckPassword(c.hash, c.password+"z") {
				t.Errorf("a wrong password was accepted by %s", c.hash)
			}
			for _, h := range c.tampered {
				if registry.CheckPassword(h, c.password) {
					t.Errorf("the tampered hash %s accepted the password", h)
				}
			}
		})
	}
}

func TestCheckPasswordLong(t *testing.T) {
	t.Parallel()
	// The long password of Django's test_bcrypt_sha256; the hashes were made
	// as for djangoHashes.
	const long = "VSK0UYV6FFQVZ0KG88DYN9WADAADZO1CTSIVDJUNZSUML6IBX7LN7ZS3R5" +
		"JGB3RGZ7VI7G7DJQ9NI8BQFSRPTG6UWTTVESA5ZPUN"
	for _, c := range []struct {
		name, hash, password string
		want                 bool
	}{
		{"BCryptSHA256", "bcrypt_sha256$$2b$04$XrFsdMbhb01O3NLwnyy3VeZGp3Y4q8pFFYPqb4Hnsv3gOb9d73Thm", long, true},
		{"BCryptSHA256Truncated", "bcrypt_sha256$$2b$04$XrFsdMbhb01O3NLwnyy3VeZGp3Y4q8pFFYPqb4Hnsv3gOb9d73Thm", long[:72], false},
		{"BCrypt", "bcrypt$$2b$04$2SRYUl3x1t71wxotxuVd6uQSm8vB5CRbuMTy4hXZ19MEDYPnwVSXu", long, true},
		// bcrypt reads 72 bytes at most, and Django checked no more.
		{"BCryptTruncated", "bcrypt$$2b$04$2SRYUl3x1t71wxotxuVd6uQSm8vB5CRbuMTy4hXZ19MEDYPnwVSXu", long[:72], true},
	} {
		if got := registry.CheckPassword(c.hash, c.password); got != c.want {
			t.Errorf("%s: CheckPassword = %v, want %v", c.name, got, c.want)
		}
	}
}

// Django's defaults for bcrypt and the highest iteration counts take seconds
// under the race detector; -short leaves them out.
func TestCheckPasswordCostly(t *testing.T) {
	if testing.Short() {
		t.Skip("costly hashes")
	}
	for _, c := range []struct{ name, hash string }{
		// bcrypt's default cost of 12, made as for djangoHashes.
		{"BCryptSHA256DefaultCost", "bcrypt_sha256$$2b$12$/rbq1aXT0Eh41gG99CIMXeUrFinyeVkwVyHAIsGY.UVo6IBIVf1Se"},
		// Above the 10,000,000 iterations nbreg once capped, made with
		// Django 3.2.25's PBKDF2PasswordHasher.encode.
		{"PBKDF2ManyIterations", "pbkdf2_sha256$10000001$seasalt$Q4i8pCU1M1b1KypkbbbeM9fS5w9LXDIuY6PBGQFNiYM="},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !registry.CheckPassword(c.hash, "lètmein") {
				t.Errorf("the right password was refused by %s", c.hash)
			}
		})
	}
}

func TestDjangoPBKDF2(t *testing.T) {
	// From Django's test_low_level_pbkdf2.
	const django = "pbkdf2_sha256$390000$seasalt2$geC/uZ92nRXDSjSxeoiBqYyRcrLzMm8xK3ro1QS1uo8="
	if got := registry.DjangoPBKDF2("lètmein", "seasalt2", 390000); got != django {
		t.Errorf("DjangoPBKDF2 = %s, want %s", got, django)
	}
}

func TestCheckPasswordIterations(t *testing.T) {
	for _, iter := range []int{1, 1000, 36000, 260000} {
		h := registry.DjangoPBKDF2("s3cret", "salt1234", iter)
		if !registry.CheckPassword(h, "s3cret") {
			t.Errorf("%d iterations: right password refused", iter)
		}
		if registry.CheckPassword(h, "S3cret") {
			t.Errorf("%d iterations: wrong password accepted", iter)
		}
	}
}

func TestCheckPasswordUnusable(t *testing.T) {
	// Django marks a user without a password with "!" and 40 random
	// characters (make_password(None)).
	for _, h := range []string{"", "!", "!ZrUP6Kv8x0dAk9AU5w2ZyAfPQvz8bSRoA0iWknSp"} {
		for _, password := range []string{"", "!", h} {
			if registry.CheckPassword(h, password) {
				t.Errorf("unusable hash %q accepted %q", h, password)
			}
		}
	}
}

// Each of these is refused before any key is derived, so none takes time.
func TestCheckPasswordMalformed(t *testing.T) {
	const (
		sha256Key = "8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c="
		scryptKey = "Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw=="
	)
	for _, h := range []string{
		// Hashers Django has but not among its defaults (test_hashers.py).
		"md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3",
		"sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8",
		"88a434c88cca4e900f7874cd98123f43",
		"crypt$$ab1Hv2Lg7ltQo",

		"pbkdf2_sha256", "pbkdf2_sha256$", "pbkdf2_sha256$390000$seasalt",
		"PBKDF2_SHA256$390000$seasalt$" + sha256Key,
		"pbkdf2_sha256$390000$seasalt$" + sha256Key + "$",
		"pbkdf2_sha256$x$seasalt$" + sha256Key,
		"pbkdf2_sha256$0$seasalt$" + sha256Key,
		"pbkdf2_sha256$-5$seasalt$" + sha256Key,
		"pbkdf2_sha256$+390000$seasalt$" + sha256Key,
		"pbkdf2_sha256$0390000$seasalt$" + sha256Key,
		"pbkdf2_sha256$ 390000$seasalt$" + sha256Key,
		"pbkdf2_sha256$99999999999999999999$seasalt$" + sha256Key,
		"pbkdf2_sha256$390000$$" + sha256Key,
		"pbkdf2_sha256$10$salt$not base64",
		"pbkdf2_sha256$390000$seasalt$aGFzaA==",                                       // not 32 bytes
		"pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7c",    // padding missing
		"pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uuAuAnKgC45eudxro7d=",   // stray padding bits
		"pbkdf2_sha256$390000$seasalt$8xBlGd3jVgvJ+92hWPxi5ww0uu\nAuAnKgC45eudxro7c=", // line break
		"pbkdf2_sha1$390000$seasalt2$" + sha256Key,

		// argon2d cannot be computed with x/crypto, nor the versionless
		// argon2 1.0 hashes of old Djangos (the one in test_hashers.py).
		"argon2$argon2d$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg",
		"argon2$argon2i$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$t=1,m=8,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=1,p=1,x=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=1,p=0$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=1,p=256$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=8,t=17,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q",
		"argon2$argon2i$v=19$m=1048577,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", // over 1 GiB
		"argon2$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$aGFzaA",
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ=$YC9+jJCrQhs5R6db7LlN8Q", // padded
		"argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q==",
		"argon2$argon2id$v=19$m=1024,t=2,p=1$c2FsdA$",
		"argon2$argon2id$v=19$m=1024,t=2,p=1$c2FsdA$aGFz", // under 4 bytes

		"bcrypt", "bcrypt$", "bcrypt$$2b$", "bcrypt$$2b$04$short", "bcrypt_sha256$",
		"bcrypt$$2b$03$9wx9QekUcZ/VpcmHvtRECue9dt08j3F42IImCKOTZ3fBsXBAZBy7C",
		"bcrypt$$2b$32$9wx9QekUcZ/VpcmHvtRECue9dt08j3F42IImCKOTZ3fBsXBAZBy7C",
		"bcrypt$$3b$04$9wx9QekUcZ/VpcmHvtRECue9dt08j3F42IImCKOTZ3fBsXBAZBy7C",

		"scrypt$16384$seasalt$8$" + scryptKey,
		"scrypt$16383$seasalt$8$1$" + scryptKey, // N not a power of two
		"scrypt$1$seasalt$8$1$" + scryptKey,
		"scrypt$0$seasalt$8$1$" + scryptKey,
		"scrypt$16384$$8$1$" + scryptKey,
		"scrypt$16384$seasalt$0$1$" + scryptKey,
		"scrypt$16384$seasalt$8$0$" + scryptKey,
		"scrypt$1048576$seasalt$8$1$" + scryptKey,          // just over 1 GiB
		"scrypt$16777216$seasalt$64$1$" + scryptKey,        // 128 GiB
		"scrypt$16$seasalt$99999999999$1$" + scryptKey,     // r alone too large
		"scrypt$16$seasalt$8$99999999$" + scryptKey,        // p too large
		"scrypt$16384$seasalt$8$1$" + sha256Key,            // not 64 bytes
		"scrypt$16384$seasalt$8$1$" + scryptKey[:86] + "=", // bad padding
	} {
		if registry.CheckPassword(h, "lètmein") || registry.CheckPassword(h, "secret") {
			t.Errorf("malformed hash %q accepted a password", h)
		}
	}
}

// FuzzCheckPassword looks for a hash that makes CheckPassword panic. Hashes
// with large parameters are skipped: they are valid and only slow, and the
// fuzzer is better spent on the parsers than on key derivation.
func FuzzCheckPassword(f *testing.F) {
	for _, c := range djangoHashes {
		f.Add(c.hash, c.password)
		for _, h := range c.tampered {
			f.Add(h, c.password)
		}
	}
	// Cheap ones of every format, for the fuzzer to grow from.
	f.Add(registry.DjangoPBKDF2("pw", "salt", 2), "pw")
	f.Add("pbkdf2_sha1$3$salt$aDapRanzW8aHTz97v2TcfHzWD+I=", "pw")
	f.Add("argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$YC9+jJCrQhs5R6db7LlN8Q", "secret")
	f.Add("scrypt$16$seasalt$2$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==", "pw")
	f.Add("!", "")
	f.Fuzz(func(t *testing.T, hash, password string) {
		if costly(hash) {
			t.Skip()
		}
		registry.CheckPassword(hash, password)
	})
}

// costly reports whether hash asks for more work than a fuzzing run should
// spend: a parameter above 32, or a bcrypt cost above 6.
func costly(hash string) bool {
	for _, field := range strings.FieldsFunc(hash, func(c rune) bool { return c == '$' || c == ',' || c == '=' }) {
		// ParseUint gives 0 for what is no number, and the largest uint64
		// for a number too large for one.
		if n, _ := strconv.ParseUint(field, 10, 64); n > 32 {
			return true
		}
	}
	_, bcryptHash, _ := strings.Cut(hash, "$")
	cost, err := bcrypt.Cost([]byte(bcryptHash))
	return err == nil && cost > 6
}
