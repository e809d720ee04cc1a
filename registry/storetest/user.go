package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func testUsers(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("CreateAndFind", func(t *testing.T) {
		f := setup(t, open)
		u := f.user(registry.User{Username: "dmeliza", Role: registry.RoleAdmin, PasswordHash: "argon2$x"})
		want := registry.User{Username: "dmeliza", Role: registry.RoleAdmin, PasswordHash: "argon2$x", CreatedOn: stored(startTime)}
		if diff := cmp.Diff(want, u); diff != "" {
			t.Errorf("created user mismatch (-want +got):\n%s", diff)
		}
		got, err := f.s.FindUser(f.ctx, "dmeliza")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("FindUser mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("CreateKeepsGivenTime", func(t *testing.T) {
		f := setup(t, open)
		joined := time.Date(2019, 5, 1, 10, 0, 0, 123456789, time.UTC)
		f.user(registry.User{Username: "old", Role: registry.RoleViewer, CreatedOn: joined})
		got, err := f.s.FindUser(f.ctx, "old")
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedOn.Equal(stored(joined)) {
			t.Errorf("CreatedOn = %v, want %v", got.CreatedOn, stored(joined))
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		f := setup(t, open)
		f.user(registry.User{Username: "bob", Role: registry.RoleEditor})
		err := f.s.CreateUser(f.ctx, &registry.User{Username: "bob", Role: registry.RoleAdmin})
		wantError(t, err, registry.ECONFLICT, nil)
		if fields := fieldsOf(err); len(fields) != 1 || len(fields["username"]) != 1 {
			t.Errorf("conflict fields = %v, want one message on username", fields)
		}
		got, err := f.s.FindUser(f.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != registry.RoleEditor {
			t.Errorf("role after refused duplicate = %q, want editor", got.Role)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		f := setup(t, open)
		err := f.s.CreateUser(f.ctx, &registry.User{Username: "", Role: "boss"})
		wantError(t, err, registry.EINVALID, nil)
		if fields := fieldsOf(err); len(fields["username"]) == 0 || len(fields["role"]) == 0 {
			t.Errorf("fields = %v, want problems with username and role", fields)
		}
		if us, err := f.s.ListUsers(f.ctx); err != nil || len(us) != 0 {
			t.Errorf("ListUsers after an invalid create = %v, %v; want none", us, err)
		}
	})

	t.Run("FindUnknown", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.FindUser(f.ctx, "nobody")
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("ListOrderedByUsername", func(t *testing.T) {
		f := setup(t, open)
		for _, name := range []string{"carol", "alice", "bob"} {
			f.user(registry.User{Username: name, Role: registry.RoleViewer})
		}
		us, err := f.s.ListUsers(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range us {
			got = append(got, u.Username)
		}
		if diff := cmp.Diff([]string{"alice", "bob", "carol"}, got); diff != "" {
			t.Errorf("ListUsers mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("Update", func(t *testing.T) {
		f := setup(t, open)
		f.user(registry.User{Username: "bob", Role: registry.RoleViewer, PasswordHash: "old"})
		got, err := f.s.UpdateUser(f.ctx, "bob", registry.UserUpdate{Role: ptr(registry.RoleEditor), PasswordHash: ptr("new")})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.User{Username: "bob", Role: registry.RoleEditor, PasswordHash: "new", CreatedOn: stored(startTime)}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("UpdateUser mismatch (-want +got):\n%s", diff)
		}
		found, err := f.s.FindUser(f.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *found); diff != "" {
			t.Errorf("FindUser after update mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateInvalidChangesNothing", func(t *testing.T) {
		f := setup(t, open)
		want := f.user(registry.User{Username: "bob", Role: registry.RoleViewer, PasswordHash: "old"})
		_, err := f.s.UpdateUser(f.ctx, "bob", registry.UserUpdate{Role: ptr(registry.Role("boss")), PasswordHash: ptr("new")})
		wantError(t, err, registry.EINVALID, nil)
		got, err := f.s.FindUser(f.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("user changed by a refused update (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateUnknown", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.UpdateUser(f.ctx, "nobody", registry.UserUpdate{Role: ptr(registry.RoleAdmin)})
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("Tokens", func(t *testing.T) {
		f := setup(t, open)
		f.user(registry.User{Username: "bob", Role: registry.RoleViewer})
		f.user(registry.User{Username: "carol", Role: registry.RoleEditor})
		key1, hash1 := registry.NewToken()
		_, hash2 := registry.NewToken()
		_, hash3 := registry.NewToken()
		for _, h := range []string{hash1, hash2} {
			if err := f.s.CreateToken(f.ctx, "bob", h); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.s.CreateToken(f.ctx, "carol", hash3); err != nil {
			t.Fatal(err)
		}
		for h, want := range map[string]string{registry.TokenHash(key1): "bob", hash2: "bob", hash3: "carol"} {
			u, err := f.s.FindUserByToken(f.ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if u.Username != want {
				t.Errorf("token owner = %q, want %q", u.Username, want)
			}
		}
		// A token speaks for the user as they are now.
		if _, err := f.s.UpdateUser(f.ctx, "bob", registry.UserUpdate{Role: ptr(registry.RoleAdmin)}); err != nil {
			t.Fatal(err)
		}
		if u, err := f.s.FindUserByToken(f.ctx, hash1); err != nil || u.Role != registry.RoleAdmin {
			t.Errorf("FindUserByToken after role change = %v, %v; want bob as admin", u, err)
		}
		_, err := f.s.FindUserByToken(f.ctx, registry.TokenHash("wrong"))
		wantError(t, err, registry.ENOTFOUND, nil)
		// The key itself is not the stored form.
		_, err = f.s.FindUserByToken(f.ctx, key1)
		wantError(t, err, registry.ENOTFOUND, nil)
		wantError(t, f.s.CreateToken(f.ctx, "nobody", registry.TokenHash("x")), registry.ENOTFOUND, nil)
	})

	t.Run("ListAndRevokeTokens", func(t *testing.T) {
		f := setup(t, open)
		f.user(registry.User{Username: "bob", Role: registry.RoleViewer})
		f.user(registry.User{Username: "carol", Role: registry.RoleEditor})
		if ts, err := f.s.ListTokens(f.ctx, "bob"); err != nil || len(ts) != 0 {
			t.Errorf("ListTokens of a user without tokens = %v, %v; want none", ts, err)
		}
		_, first := registry.NewToken()
		_, second := registry.NewToken()
		_, carols := registry.NewToken()
		if err := f.s.CreateToken(f.ctx, "bob", first); err != nil {
			t.Fatal(err)
		}
		later := startTime.Add(time.Minute)
		f.clock.Set(later)
		if err := f.s.CreateToken(f.ctx, "bob", second); err != nil {
			t.Fatal(err)
		}
		if err := f.s.CreateToken(f.ctx, "carol", carols); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.ListTokens(f.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.Token{{Hash: first, CreatedOn: stored(startTime)}, {Hash: second, CreatedOn: stored(later)}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListTokens mismatch (-want +got):\n%s", diff)
		}

		// Another user's token is not theirs to revoke.
		wantError(t, f.s.DeleteToken(f.ctx, "bob", carols), registry.ENOTFOUND, nil)
		if _, err := f.s.FindUserByToken(f.ctx, carols); err != nil {
			t.Errorf("carol's token after bob tried to revoke it: %v", err)
		}

		if err := f.s.DeleteToken(f.ctx, "bob", first); err != nil {
			t.Fatal(err)
		}
		_, err = f.s.FindUserByToken(f.ctx, first)
		wantError(t, err, registry.ENOTFOUND, nil)
		if u, err := f.s.FindUserByToken(f.ctx, second); err != nil || u.Username != "bob" {
			t.Errorf("the other token after revoking one = %v, %v; want bob", u, err)
		}
		got, err = f.s.ListTokens(f.ctx, "bob")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[1:], got); diff != "" {
			t.Errorf("ListTokens after a revoke mismatch (-want +got):\n%s", diff)
		}
		wantError(t, f.s.DeleteToken(f.ctx, "bob", first), registry.ENOTFOUND, nil)
		wantError(t, f.s.DeleteToken(f.ctx, "nobody", second), registry.ENOTFOUND, nil)
		_, err = f.s.ListTokens(f.ctx, "nobody")
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("Secret", func(t *testing.T) {
		f := setup(t, open)
		a, err := f.s.Secret(f.ctx, "session")
		if err != nil {
			t.Fatal(err)
		}
		if len(a) < 32 || bytes.Equal(a, make([]byte, len(a))) {
			t.Errorf("secret %x is not 32 random bytes", a)
		}
		again, err := f.s.Secret(f.ctx, "session")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, again) {
			t.Errorf("Secret changed between calls: %x then %x", a, again)
		}
		other, err := f.s.Secret(f.ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, other) {
			t.Errorf("two names share the secret %x", a)
		}
	})

	t.Run("SecretAgreedConcurrently", func(t *testing.T) {
		f := setup(t, open)
		keys := make([][]byte, 8)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() {
				k, err := f.s.Secret(f.ctx, "shared")
				if err != nil {
					t.Error(err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		for i, k := range keys {
			if !bytes.Equal(k, keys[0]) {
				t.Errorf("caller %d got secret %x, caller 0 got %x", i, k, keys[0])
			}
		}
	})
}

func testConcurrency(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("ConcurrentWritesAndReads", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		f.archive(registry.Archive{Name: "local", Scheme: "neurobank", Root: "/a"})
		const writers, each = 8, 10
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					r := registry.Resource{Name: fmt.Sprintf("w%d-%d", w, i), DType: "wav", Locations: []string{"local"}}
					if i%2 == 0 {
						r.Name = ""
					}
					if err := f.s.CreateResource(f.ctx, &r, "bob"); err != nil {
						t.Errorf("CreateResource: %v", err)
						return
					}
					if _, err := f.s.FindResource(f.ctx, r.Name); err != nil {
						t.Errorf("FindResource(%s) right after creating it: %v", r.Name, err)
					}
					if _, err := f.s.UpdateResource(f.ctx, r.Name, registry.ResourceUpdate{Metadata: registry.Metadata{"i": "x"}}, nil); err != nil {
						t.Errorf("UpdateResource: %v", err)
					}
				}
			})
		}
		wg.Wait()
		if n := f.count(); n != writers*each {
			t.Errorf("%d resources after concurrent creates, want %d", n, writers*each)
		}
	})

	// A name being retired, by a delete or a rename, while creates of
	// that name wait for it: none of them may take it, one at a time or in
	// a batch. A store that checked for retirement before waiting on the
	// name would let one through once the retiring transaction commits.
	t.Run("CreateRacingRetirement", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav"})
		const rounds, creators = 20, 4
		for round := range rounds {
			name := fmt.Sprintf("race%d", round)
			f.resource(registry.Resource{Name: name, DType: "wav"}, "bob")
			var wg sync.WaitGroup
			start := make(chan struct{})
			for c := range creators {
				wg.Go(func() {
					<-start
					for range 20 {
						r := registry.Resource{Name: name, DType: "wav"}
						var err error
						if c%2 == 0 {
							err = f.s.CreateResource(f.ctx, &r, "carol")
						} else {
							err = f.s.CreateResources(f.ctx, []*registry.Resource{&r}, "carol")
						}
						if err == nil {
							t.Errorf("round %d: CreateResource(%s) succeeded while the name was in use or retired", round, name)
							return
						}
						if registry.ErrorCode(err) != registry.ECONFLICT {
							t.Errorf("round %d: CreateResource(%s): %v, want ECONFLICT", round, name, err)
							return
						}
					}
				})
			}
			close(start)
			var err error
			if round%2 == 0 {
				err = f.s.DeleteResource(f.ctx, name)
			} else {
				err = f.s.RenameResource(f.ctx, name, name+"-renamed", "bob")
			}
			if err != nil {
				t.Fatalf("round %d: retiring %s: %v", round, name, err)
			}
			wg.Wait()
			f.wantNoResource(name)
		}
	})
}
