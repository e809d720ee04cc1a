package registry_test

import (
	"strings"
	"testing"

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

func TestDjangoPBKDF2(t *testing.T) {
	// Django's PBKDF2PasswordHasher encodes pbkdf2_hmac("sha256", password,
	// salt, iterations) in base64. This digest was computed independently with
	// Python's hashlib for the password "neurobank".
	const django = "pbkdf2_sha256$600000$YZcTqPNeCZBHDQqA5IgRu2$BlAHOgqcyun2y8APWAbEL4I2T+9GWvD8ufKDgriFiO8="
	if got := registry.DjangoPBKDF2("neurobank", "YZcTqPNeCZBHDQqA5IgRu2", 600000); got != django {
		t.Errorf("DjangoPBKDF2 = %s, want %s", got, django)
	}
	if !registry.CheckPassword(django, "neurobank") {
		t.Error("Django's hash was refused")
	}
	if registry.CheckPassword(django, "neurobanK") {
		t.Error("a wrong password matched Django's hash")
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

func TestCheckPasswordMalformed(t *testing.T) {
	for _, h := range []string{
		"", "!", "md5$abc$def", "pbkdf2_sha256$", "pbkdf2_sha256$x$salt$aGFzaA==",
		"pbkdf2_sha256$-5$salt$aGFzaA==", "pbkdf2_sha256$10$salt$not base64",
		"pbkdf2_sha256$999999999$salt$aGFzaA==",
		"argon2$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$aGFzaA",
		"argon2$argon2i$v=19$m=1024,t=2,p=1$c2FsdA$aGFzaA",
		"argon2$argon2id$v=19$m=1024,t=2,p=1$c2FsdA$",
	} {
		if registry.CheckPassword(h, "anything") {
			t.Errorf("malformed hash %q accepted a password", h)
		}
	}
}
