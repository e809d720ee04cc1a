package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"time"

	"nbreg/registry"
)

// selectUser reads users; callers add a WHERE or ORDER BY.
const selectUser = `SELECT u.username, u.role, u.password_hash, u.created_on FROM users u`

func scanUser(row scanner) (registry.User, error) {
	var u registry.User
	var createdOn int64
	err := row.Scan(&u.Username, &u.Role, &u.PasswordHash, &createdOn)
	u.CreatedOn = fromMicros(createdOn)
	return u, err
}

// CreateUser validates and stores u; a zero CreatedOn becomes now (an
// imported user keeps the time it has). EINVALID; ECONFLICT on "username".
func (s *Store) CreateUser(ctx context.Context, u *registry.User) error {
	invalid := registry.Problems{}
	if err := invalid.Merge(u.Validate()); err != nil {
		return err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	conflicts := registry.Problems{}
	if !invalid.Has("username") {
		if _, _, err := findUser(ctx, tx, u.Username); err == nil {
			conflicts.Add("username", registry.MsgUserExists)
		} else if registry.ErrorCode(err) != registry.ENOTFOUND {
			return formatError(err)
		}
	}
	if err := registry.Refusal(invalid, conflicts); err != nil {
		return err
	}
	createdOn := u.CreatedOn.UTC().Truncate(time.Microsecond)
	if u.CreatedOn.IsZero() {
		createdOn = s.now()
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO users (username, role, password_hash, created_on) VALUES (?, ?, ?, ?)`,
		u.Username, string(u.Role), u.PasswordHash, toMicros(createdOn)); err != nil {
		return formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return formatError(err)
	}
	u.CreatedOn = createdOn
	return nil
}

// FindUser returns the user called username, or ENOTFOUND.
func (s *Store) FindUser(ctx context.Context, username string) (*registry.User, error) {
	u, _, err := findUser(ctx, s.reads, username)
	return u, formatError(err)
}

// findUser returns the user called username and its row id, or ENOTFOUND.
func findUser(ctx context.Context, tx querier, username string) (*registry.User, int64, error) {
	var id int64
	var createdOn int64
	var u registry.User
	err := tx.QueryRowContext(ctx,
		`SELECT id, username, role, password_hash, created_on FROM users WHERE username = ?`, username,
	).Scan(&id, &u.Username, &u.Role, &u.PasswordHash, &createdOn)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, notFound()
	} else if err != nil {
		return nil, 0, err
	}
	u.CreatedOn = fromMicros(createdOn)
	return &u, id, nil
}

// ListUsers returns every user ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]registry.User, error) {
	rows, err := s.reads.QueryContext(ctx, selectUser+` ORDER BY u.username`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	us := []registry.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, formatError(err)
		}
		us = append(us, u)
	}
	return us, formatError(rows.Err())
}

// UpdateUser changes the user called username and returns it. ENOTFOUND,
// EINVALID.
func (s *Store) UpdateUser(ctx context.Context, username string, upd registry.UserUpdate) (*registry.User, error) {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	u, id, err := findUser(ctx, tx, username)
	if err != nil {
		return nil, formatError(err)
	}
	if upd.PasswordHash != nil {
		u.PasswordHash = *upd.PasswordHash
	}
	if upd.Role != nil {
		u.Role = *upd.Role
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, password_hash = ? WHERE id = ?`,
		string(u.Role), u.PasswordHash, id); err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return u, nil
}

// CreateToken stores the hash of a new API token of the user called
// username. ENOTFOUND.
func (s *Store) CreateToken(ctx context.Context, username, hash string) error {
	if hash == "" {
		return registry.FieldError(registry.EINVALID, "token", registry.MsgBlank)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	_, id, err := findUser(ctx, tx, username)
	if err != nil {
		return formatError(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, user_id, created_on) VALUES (?, ?, ?)`,
		hash, id, toMicros(s.now())); err != nil {
		return formatError(err)
	}
	return formatError(tx.Commit())
}

// ListTokens returns the tokens of the user called username, oldest
// first. ENOTFOUND for an unknown user.
func (s *Store) ListTokens(ctx context.Context, username string) ([]registry.Token, error) {
	// One read transaction, so the user and their tokens agree.
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	_, id, err := findUser(ctx, tx, username)
	if err != nil {
		return nil, formatError(err)
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT hash, created_on FROM tokens WHERE user_id = ? ORDER BY created_on, hash`, id)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	ts := []registry.Token{}
	for rows.Next() {
		var t registry.Token
		var createdOn int64
		if err := rows.Scan(&t.Hash, &createdOn); err != nil {
			return nil, formatError(err)
		}
		t.CreatedOn = fromMicros(createdOn)
		ts = append(ts, t)
	}
	return ts, formatError(rows.Err())
}

// DeleteToken revokes the token of the user called username whose hash is
// given. ENOTFOUND when that user has no such token.
func (s *Store) DeleteToken(ctx context.Context, username, hash string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback()

	_, id, err := findUser(ctx, tx, username)
	if err != nil {
		return formatError(err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = ? AND user_id = ?`, hash, id)
	if err != nil {
		return formatError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return formatError(err)
	} else if n == 0 {
		return notFound()
	}
	return formatError(tx.Commit())
}

// FindUserByToken returns the owner of the token whose hash is given, or
// ENOTFOUND.
func (s *Store) FindUserByToken(ctx context.Context, hash string) (*registry.User, error) {
	u, err := scanUser(s.reads.QueryRowContext(ctx,
		selectUser+` JOIN tokens t ON t.user_id = u.id WHERE t.hash = ?`, hash))
	if err != nil {
		return nil, formatError(err)
	}
	return &u, nil
}

// secretLength is the size in bytes of the keys Secret makes.
const secretLength = 32

// Secret returns the random key kept under name, creating it on first use.
// Two processes asking at once get the same key: the insert keeps whichever
// came first and both read that one back.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var stored []byte
	err := s.reads.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&stored)
	if err == nil {
		return stored, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, formatError(err)
	}

	key := make([]byte, secretLength)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, formatError(err)
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING`, name, key); err != nil {
		return nil, formatError(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&stored); err != nil {
		return nil, formatError(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, formatError(err)
	}
	return stored, nil
}
