package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"nbreg/registry"
)

// selectUser reads users; callers add a join, a WHERE or an ORDER BY.
const selectUser = `SELECT u.id, u.username, u.role, u.password_hash, u.created_on FROM users u`

// scanUser reads a row of selectUser: the user and its row id.
func scanUser(row pgx.Row) (*registry.User, int64, error) {
	var u registry.User
	var id int64
	var role string
	if err := row.Scan(&id, &u.Username, &role, &u.PasswordHash, &u.CreatedOn); err != nil {
		return nil, 0, err
	}
	u.Role = registry.Role(role)
	u.CreatedOn = u.CreatedOn.UTC()
	return &u, id, nil
}

// CreateUser validates and stores u; a zero CreatedOn becomes now (an
// imported user keeps the time it has, to the microsecond). EINVALID;
// ECONFLICT on "username".
func (s *Store) CreateUser(ctx context.Context, u *registry.User) error {
	invalid := registry.Problems{}
	if err := invalid.Merge(u.Validate()); err != nil {
		return err
	}
	createdOn := u.CreatedOn.UTC().Truncate(time.Microsecond)
	if u.CreatedOn.IsZero() {
		createdOn = s.now()
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		conflicts := registry.Problems{}
		if !invalid.Has("username") {
			if _, _, err := findUser(ctx, tx, u.Username, false); err == nil {
				conflicts.Add("username", registry.MsgUserExists)
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if err := registry.Refusal(invalid, conflicts); err != nil {
			return err
		}
		// A user created by another writer since the check above is
		// refused by users_username_key, with the same message.
		_, err := tx.Exec(ctx,
			`INSERT INTO users (username, role, password_hash, created_on) VALUES ($1, $2, $3, $4)`,
			u.Username, string(u.Role), u.PasswordHash, createdOn)
		return err
	})
	if err != nil {
		return err
	}
	u.CreatedOn = createdOn
	return nil
}

// FindUser returns the user called username, or ENOTFOUND.
func (s *Store) FindUser(ctx context.Context, username string) (*registry.User, error) {
	u, _, err := findUser(ctx, s.pool, username, false)
	if err != nil {
		return nil, formatError(err)
	}
	return u, nil
}

// findUser returns the user called username and its row id, or
// pgx.ErrNoRows (ENOTFOUND once formatted). With lock, the row is locked
// until the transaction q ends.
func findUser(ctx context.Context, q querier, username string, lock bool) (*registry.User, int64, error) {
	query := selectUser + ` WHERE u.username = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	return scanUser(q.QueryRow(ctx, query, username))
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]registry.User, error) {
	rows, err := s.pool.Query(ctx, selectUser+` ORDER BY u.username`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	us := []registry.User{}
	for rows.Next() {
		u, _, err := scanUser(rows)
		if err != nil {
			return nil, formatError(err)
		}
		us = append(us, *u)
	}
	return us, formatError(rows.Err())
}

// UpdateUser changes the user called username and returns it. ENOTFOUND,
// EINVALID.
func (s *Store) UpdateUser(ctx context.Context, username string, upd registry.UserUpdate) (*registry.User, error) {
	var u *registry.User
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Locked until commit, so that a password change and a role
		// change made at once both hold.
		found, id, err := findUser(ctx, tx, username, true)
		if err != nil {
			return err
		}
		if upd.PasswordHash != nil {
			found.PasswordHash = *upd.PasswordHash
		}
		if upd.Role != nil {
			found.Role = *upd.Role
		}
		if err := found.Validate(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $1, password_hash = $2 WHERE id = $3`,
			string(found.Role), found.PasswordHash, id); err != nil {
			return err
		}
		u = found
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// CreateToken stores the hash of a new API token of the user called
// username. EINVALID for an empty hash; ENOTFOUND.
func (s *Store) CreateToken(ctx context.Context, username, hash string) error {
	if hash == "" {
		return registry.FieldError(registry.EINVALID, "token", registry.MsgBlank)
	}
	// One statement: the user is found and the token stored together,
	// and users are never deleted, so no lock is needed.
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO tokens (hash, user_id, created_on) SELECT $1, id, $2 FROM users WHERE username = $3`,
		hash, s.now(), username)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return formatError(pgx.ErrNoRows)
	}
	return nil
}

// ListTokens returns the tokens of the user called username, oldest
// first. ENOTFOUND for an unknown user.
func (s *Store) ListTokens(ctx context.Context, username string) ([]registry.Token, error) {
	// The left join tells an unknown user (no row) from a user without
	// tokens (one row of NULLs) in one statement.
	rows, err := s.pool.Query(ctx,
		`SELECT t.hash, t.created_on FROM users u LEFT JOIN tokens t ON t.user_id = u.id
		 WHERE u.username = $1 ORDER BY t.created_on, t.hash`, username)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	ts := []registry.Token{}
	found := false
	for rows.Next() {
		found = true
		var hash *string
		var createdOn *time.Time
		if err := rows.Scan(&hash, &createdOn); err != nil {
			return nil, formatError(err)
		}
		if hash != nil {
			ts = append(ts, registry.Token{Hash: *hash, CreatedOn: createdOn.UTC()})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, formatError(err)
	}
	if !found {
		return nil, formatError(pgx.ErrNoRows)
	}
	return ts, nil
}

// DeleteToken revokes the token of the user called username whose hash is
// given. ENOTFOUND when that user has no such token.
func (s *Store) DeleteToken(ctx context.Context, username, hash string) error {
	tag, err := s.pool.Exec(ctx,
		`DELETE FROM tokens t USING users u WHERE t.user_id = u.id AND u.username = $1 AND t.hash = $2`,
		username, hash)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return formatError(pgx.ErrNoRows)
	}
	return nil
}

// FindUserByToken returns the owner of the token whose hash is given, or
// ENOTFOUND.
func (s *Store) FindUserByToken(ctx context.Context, hash string) (*registry.User, error) {
	u, _, err := scanUser(s.pool.QueryRow(ctx,
		selectUser+` JOIN tokens t ON t.user_id = u.id WHERE t.hash = $1`, hash))
	if err != nil {
		return nil, formatError(err)
	}
	return u, nil
}

// secretLength is the size in bytes of the keys Secret makes.
const secretLength = 32

// Secret returns the random key kept under name, creating it on first use.
// Processes asking at once get the same key: the insert keeps whichever
// came first (waiting for it to commit or roll back) and every caller
// reads that one back. Each statement runs on its own, at read committed,
// so the read after the insert sees a key another process committed.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	const read = `SELECT value FROM secrets WHERE name = $1`
	var stored []byte
	err := s.pool.QueryRow(ctx, read, name).Scan(&stored)
	if err == nil {
		return stored, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return nil, formatError(err)
	}

	key := make([]byte, secretLength)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, key); err != nil {
		return nil, formatError(err)
	}
	if err := s.pool.QueryRow(ctx, read, name).Scan(&stored); err != nil {
		return nil, formatError(err)
	}
	return stored, nil
}
