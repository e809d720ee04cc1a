package registry

import "context"

// userContextKey keys the acting user in a context.
type userContextKey struct{}

// NewContextWithUser returns a copy of ctx that carries user as the one on
// whose behalf the store acts. Store methods that take no user argument
// (DeleteResource, AddLocation, RemoveLocation) record it in the history.
func NewContextWithUser(ctx context.Context, user *User) context.Context {
	return context.WithValue(ctx, userContextKey{}, user)
}

// UserFromContext returns the user carried by ctx, or nil.
func UserFromContext(ctx context.Context) *User {
	u, _ := ctx.Value(userContextKey{}).(*User)
	return u
}

// UsernameFromContext returns the username of the user carried by ctx, or
// "" when there is none.
func UsernameFromContext(ctx context.Context) string {
	if u := UserFromContext(ctx); u != nil {
		return u.Username
	}
	return ""
}
