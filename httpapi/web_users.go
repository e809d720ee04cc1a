package httpapi

import (
	"net/http"
	"net/url"

	"nbreg/registry"
)

// The pages where users are managed in the browser, as nbreg adduser,
// passwd, users and token do at the terminal, with the same rules and the
// same store calls. They are pages only: a script manages users at the
// terminal. Each page posts its forms to itself, with an "action" field
// saying which form it is; a write redirects (303) back to the page with a
// "done" parameter naming the message to show, except issuing a token,
// whose key is shown on the answer to the POST itself and never again.

// Form fields and actions of the user pages.
const (
	actionField = "action"
	doneParam   = "done"

	actionCreate      = "create"
	actionRole        = "role"
	actionPassword    = "password"
	actionSignInOff   = "signin-off"
	actionIssueToken  = "issue-token"
	actionRevokeToken = "revoke-token"
)

// doneMessages are the notices shown after a write, by the done parameter;
// a done the pages did not send shows nothing.
var doneMessages = map[string]string{
	actionCreate:      "User created.",
	actionRole:        "Role changed.",
	actionPassword:    "Password changed. Sessions signed in with the old one have ended.",
	actionSignInOff:   "Password sign-in turned off. The user's sessions have ended; their tokens still work until revoked.",
	actionRevokeToken: "Token revoked.",
	"own-password":    "Your password is changed. Your other sessions have ended.",
}

// Refusals of the user pages.
var (
	errPageOnly      = &statusError{http.StatusNotAcceptable, "This is a page of the web interface; at the terminal, users are managed with nbreg adduser, passwd, users and token."}
	errOwnRole       = badRequest("You cannot change your own role: another administrator can.")
	errOwnSignInOff  = badRequest("You cannot turn off your own password sign-in: another administrator can.")
	errNoSuchToken   = badRequest("There is no such token; it may have been revoked already.")
	errUnknownAction = badRequest("Unknown action.")
)

// roleChoices are the roles a form offers, most powerful first.
var roleChoices = []string{string(registry.RoleAdmin), string(registry.RoleEditor), string(registry.RoleViewer)}

// registerUserRoutes registers the administrators' user pages and every
// signed-in user's account page.
func (s *Server) registerUserRoutes() {
	s.handle("users/", &endpoint{
		name: "Users",
		description: "Web interface: administrators list the users (role, password sign-in, tokens) " +
			"and create one. A page only; scripts use nbreg adduser and nbreg users.",
		tag: "web",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleUserList},
			http.MethodPost: {handle: s.handleUserCreate, status: http.StatusSeeOther, fields: userCreateFields},
		},
	})
	s.handle("users/edit/", &endpoint{
		name: "User",
		description: "Web interface: administrators change the role and password of the user named by the " +
			"username parameter, turn their password sign-in off, issue and revoke their API tokens. A page only.",
		tag: "web",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleUserEdit, query: []paramSpec{{Name: "username", Description: "The user to manage."}}},
			http.MethodPost: {handle: s.handleUserChange, status: http.StatusSeeOther, fields: userChangeFields},
		},
	})
	s.registerAccountRoutes()
}

// Fields of the user forms, for OPTIONS and the API documentation.
var (
	userCreateFields = []fieldSpec{
		{Name: "username", Type: "string", Required: true, Label: "Username", MaxLength: registry.MaxUsername},
		{Name: "role", Type: "choice", Required: true, Label: "Role", Choices: roleChoices},
		{Name: "password", Type: "string", Required: true, Label: "Password"},
		{Name: "password2", Type: "string", Required: true, Label: "Password (again)"},
	}
	userChangeFields = []fieldSpec{
		{Name: "username", Type: "string", Required: true, Label: "Username"},
		{Name: actionField, Type: "choice", Required: true, Label: "What to do",
			Choices: []string{actionRole, actionPassword, actionSignInOff, actionIssueToken, actionRevokeToken}},
		{Name: "role", Type: "choice", Label: "New role (role)", Choices: roleChoices},
		{Name: "password", Type: "string", Label: "New password (password)"},
		{Name: "password2", Type: "string", Label: "New password again (password)"},
		{Name: "token", Type: "string", Label: "Hash of the token to revoke (revoke-token)"},
	}
)

// pageUser returns the signed-in user a user page is for, or nil when it
// has answered r itself: anonymous browsers are sent to sign in, users
// without the right role are refused (403), and so are clients that do not
// want a page.
func (s *Server) pageUser(w http.ResponseWriter, r *http.Request, adminOnly bool) *registry.User {
	st := stateOf(r)
	if !st.html {
		Error(w, r, errPageOnly)
		return nil
	}
	user := currentUser(r)
	switch {
	case user == nil && st.rerender != nil:
		// A form refused before it reached its handler (a missing CSRF
		// token) is being shown again: say why rather than ask to sign in.
		s.renderErrorPage(w, r, st.rerender.status, detailJSON{st.rerender.detail})
		return nil
	case user == nil && isSafeMethod(r.Method):
		target := r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", s.cfg.Prefix+"auth/login/?next="+url.QueryEscape(target))
		w.WriteHeader(http.StatusSeeOther)
		return nil
	case user == nil:
		s.renderErrorPage(w, r, errNotSignedIn.status, detailJSON{errNotSignedIn.detail})
		return nil
	case adminOnly && !user.Role.IsAdmin():
		s.renderErrorPage(w, r, errNotPermitted.status, detailJSON{errNotPermitted.detail})
		return nil
	}
	return user
}

// postedForm returns the fields of a form posted to a user page.
func postedForm(r *http.Request) (url.Values, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if !body.isForm() {
		return nil, unsupportedMediaType(r.Header.Get("Content-Type"))
	}
	return body.form, nil
}

// refusedForm is a form shown again after err refused it, keeping what was
// typed but never a password.
func refusedForm(form url.Values, err error) *formState {
	values := url.Values{}
	for k, vs := range form {
		switch k {
		case "password", "password2", "current_password", CSRFFormField:
			continue
		}
		values[k] = vs
	}
	fs := &formState{status: http.StatusBadRequest, values: values}
	switch e := err.(type) {
	case *statusError:
		fs.status, fs.detail = e.status, e.detail
	case *registry.Error:
		fs.errors = e.Fields
		if len(e.Fields) == 0 {
			fs.detail = e.Message
		}
	}
	return fs
}

// isFormRefusal reports whether err is a refusal a form shows beside its
// fields, rather than an error of the server.
func isFormRefusal(err error) bool {
	switch e := err.(type) {
	case *statusError:
		return e.status < 500
	case *registry.Error:
		return e.Code == registry.EINVALID || e.Code == registry.ECONFLICT
	}
	return false
}

// newPasswordHash checks the new password of a form, typed twice, by the
// rules of the terminal, and hashes it. Problems go into p.
func newPasswordHash(form url.Values, p registry.Problems) string {
	password := form.Get("password")
	switch {
	case password == "":
		p.Add("password", registry.MsgPasswordEmpty)
		return ""
	case password != form.Get("password2"):
		p.Add("password2", registry.MsgPasswordMismatch)
		return ""
	}
	hash, err := registry.HashPassword(password)
	if err != nil {
		p.Merge(err)
		return ""
	}
	return hash
}

// seeOther redirects a browser after a write.
func seeOther(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// userEditPath is the page of the user called username.
func (s *Server) userEditPath(username string, done string) string {
	q := url.Values{"username": {username}}
	if done != "" {
		q.Set(doneParam, done)
	}
	return s.cfg.Prefix + "users/edit/?" + q.Encode()
}

// userRow is a line of the users list.
type userRow struct {
	Username       string
	Role           registry.Role
	PasswordSignIn bool
	Tokens         int
	CreatedOn      jsonTime
}

// usersView is the content of the users list.
type usersView struct {
	Rows   []userRow
	Roles  []string
	Notice string
}

func (s *Server) handleUserList(w http.ResponseWriter, r *http.Request) {
	if s.pageUser(w, r, true) == nil {
		return
	}
	s.renderUserList(w, r, http.StatusOK, nil)
}

// renderUserList shows the users list, with a refused create form when fs
// is not nil.
func (s *Server) renderUserList(w http.ResponseWriter, r *http.Request, status int, fs *formState) {
	users, err := s.store.ListUsers(r.Context())
	if err != nil {
		Error(w, r, err)
		return
	}
	view := usersView{Roles: roleChoices, Notice: doneMessages[r.URL.Query().Get(doneParam)]}
	for _, u := range users {
		// One query per user: registries have tens of users, not thousands.
		tokens, err := s.store.ListTokens(r.Context(), u.Username)
		if err != nil {
			Error(w, r, err)
			return
		}
		view.Rows = append(view.Rows, userRow{
			Username: u.Username, Role: u.Role, PasswordSignIn: u.PasswordHash != "",
			Tokens: len(tokens), CreatedOn: jsonTime(u.CreatedOn),
		})
	}
	p := s.newPage(r, "users", "Users", status)
	if fs != nil {
		p.Form, p.Status = fs, fs.status
	}
	s.writePage(w, r, p.with(view))
}

func (s *Server) handleUserCreate(w http.ResponseWriter, r *http.Request) {
	if s.pageUser(w, r, true) == nil {
		return
	}
	form, err := postedForm(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	u := &registry.User{Username: form.Get("username"), Role: registry.Role(form.Get("role"))}
	p := registry.Problems{}
	p.Merge(u.Validate())
	u.PasswordHash = newPasswordHash(form, p)
	if err := p.Err(); err != nil {
		s.renderUserList(w, r, http.StatusBadRequest, refusedForm(form, err))
		return
	}
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		if !isFormRefusal(err) {
			Error(w, r, err)
			return
		}
		s.renderUserList(w, r, http.StatusBadRequest, refusedForm(form, err))
		return
	}
	seeOther(w, s.userEditPath(u.Username, actionCreate))
}

// tokenRow is a token in a list, named by the start of its hash.
type tokenRow struct {
	Hash      string
	Label     string
	CreatedOn jsonTime
}

// tokenRows lists the tokens of username for a page.
func (s *Server) tokenRows(r *http.Request, username string) ([]tokenRow, error) {
	tokens, err := s.store.ListTokens(r.Context(), username)
	if err != nil {
		return nil, err
	}
	rows := make([]tokenRow, 0, len(tokens))
	for _, t := range tokens {
		rows = append(rows, tokenRow{Hash: t.Hash, Label: truncate(t.Hash, 12), CreatedOn: jsonTime(t.CreatedOn)})
	}
	return rows, nil
}

// userView is the content of a user's page, for an administrator or for
// the user themselves (the account page).
type userView struct {
	User   *registry.User
	Self   bool
	Roles  []string
	Tokens []tokenRow
	// NewToken is the key of a token just issued, shown this once.
	NewToken string
	Notice   string
}

func (s *Server) handleUserEdit(w http.ResponseWriter, r *http.Request) {
	if s.pageUser(w, r, true) == nil {
		return
	}
	s.renderUserEdit(w, r, r.URL.Query().Get("username"), http.StatusOK, nil, "")
}

// renderUserEdit shows the page of the user called username, with a
// refused form when fs is not nil, or the key of a token just issued.
func (s *Server) renderUserEdit(w http.ResponseWriter, r *http.Request, username string, status int, fs *formState, newToken string) {
	target, err := s.store.FindUser(r.Context(), username)
	if err != nil {
		Error(w, r, err)
		return
	}
	tokens, err := s.tokenRows(r, target.Username)
	if err != nil {
		Error(w, r, err)
		return
	}
	view := userView{
		User: target, Self: target.Username == currentUser(r).Username, Roles: roleChoices,
		Tokens: tokens, NewToken: newToken, Notice: doneMessages[r.URL.Query().Get(doneParam)],
	}
	p := s.newPage(r, "user", "User "+target.Username, status)
	if fs != nil {
		p.Form, p.Status = fs, fs.status
	}
	s.writePage(w, r, p.with(view))
}

func (s *Server) handleUserChange(w http.ResponseWriter, r *http.Request) {
	admin := s.pageUser(w, r, true)
	if admin == nil {
		return
	}
	form, err := postedForm(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	username := form.Get("username")
	self := username == admin.Username
	refuse := func(err error) {
		if !isFormRefusal(err) {
			Error(w, r, err)
			return
		}
		s.renderUserEdit(w, r, username, 0, refusedForm(form, err), "")
	}
	ctx := r.Context()
	switch form.Get(actionField) {
	case actionRole:
		if self {
			refuse(errOwnRole)
			return
		}
		role, err := registry.ParseRole(form.Get("role"))
		if err != nil {
			refuse(err)
			return
		}
		if _, err := s.store.UpdateUser(ctx, username, registry.UserUpdate{Role: &role}); err != nil {
			refuse(err)
			return
		}
		seeOther(w, s.userEditPath(username, actionRole))
	case actionPassword:
		if _, err := s.store.FindUser(ctx, username); err != nil {
			Error(w, r, err)
			return
		}
		p := registry.Problems{}
		hash := newPasswordHash(form, p)
		if err := p.Err(); err != nil {
			refuse(err)
			return
		}
		if _, err := s.store.UpdateUser(ctx, username, registry.UserUpdate{PasswordHash: &hash}); err != nil {
			refuse(err)
			return
		}
		if self && !s.renewSession(w, r, username) {
			return
		}
		seeOther(w, s.userEditPath(username, actionPassword))
	case actionSignInOff:
		if self {
			refuse(errOwnSignInOff)
			return
		}
		off := ""
		if _, err := s.store.UpdateUser(ctx, username, registry.UserUpdate{PasswordHash: &off}); err != nil {
			refuse(err)
			return
		}
		seeOther(w, s.userEditPath(username, actionSignInOff))
	case actionIssueToken:
		key, err := s.issueToken(r, username)
		if err != nil {
			Error(w, r, err)
			return
		}
		s.renderUserEdit(w, r, username, http.StatusOK, nil, key)
	case actionRevokeToken:
		if err := s.revokeToken(r, username, form.Get("token")); err != nil {
			refuse(err)
			return
		}
		seeOther(w, s.userEditPath(username, actionRevokeToken))
	default:
		refuse(errUnknownAction)
	}
}

// issueToken makes a new API token for username, as nbreg token does, and
// returns its key.
func (s *Server) issueToken(r *http.Request, username string) (string, error) {
	key, hash := registry.NewToken()
	if err := s.store.CreateToken(r.Context(), username, hash); err != nil {
		return "", err
	}
	return key, nil
}

// revokeToken revokes the token of username with the given hash; a token
// that is not theirs (or no longer exists) is refused as a form error.
func (s *Server) revokeToken(r *http.Request, username, hash string) error {
	if _, err := s.store.FindUser(r.Context(), username); err != nil {
		return err
	}
	err := s.store.DeleteToken(r.Context(), username, hash)
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return errNoSuchToken
	}
	return err
}

// renewSession signs username in again after they changed their own
// password, which ended every session signed with the old one, this one
// included. It reports whether it could; if not, it has answered r.
func (s *Server) renewSession(w http.ResponseWriter, r *http.Request, username string) bool {
	cookie, _, err := s.MintSession(r.Context(), username)
	if err != nil {
		Error(w, r, err)
		return false
	}
	cookie.Secure = s.requestScheme(r) == "https"
	http.SetCookie(w, cookie)
	return true
}
