package httpapi

import (
	"net/http"
	"strconv"

	"nbreg/registry"
)

// Every signed-in user's own account page: change their password, knowing
// the current one, and issue and revoke their own API tokens.

// msgCurrentPassword refuses a password change whose current password is
// wrong.
const msgCurrentPassword = "Your current password is wrong."

// accountFields are the fields of the account page's forms.
var accountFields = []fieldSpec{
	{Name: actionField, Type: "choice", Required: true, Label: "What to do",
		Choices: []string{actionPassword, actionIssueToken, actionRevokeToken}},
	{Name: "current_password", Type: "string", Label: "Current password (password)"},
	{Name: "password", Type: "string", Label: "New password (password)"},
	{Name: "password2", Type: "string", Label: "New password again (password)"},
	{Name: "token", Type: "string", Label: "Hash of the token to revoke (revoke-token)"},
}

// registerAccountRoutes registers the account page.
func (s *Server) registerAccountRoutes() {
	s.handle("account/", &endpoint{
		name: "Account",
		description: "Web interface: a signed-in user changes their own password (giving the current one; " +
			"failures are throttled as sign-ins are) and issues and revokes their own API tokens. A page only.",
		tag: "web",
		methods: map[string]method{
			http.MethodGet:  {handle: s.handleAccount},
			http.MethodPost: {handle: s.handleAccountChange, status: http.StatusSeeOther, fields: accountFields},
		},
	})
}

func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	if s.pageUser(w, r, false) == nil {
		return
	}
	s.renderAccount(w, r, http.StatusOK, nil, "")
}

// renderAccount shows the account page of the signed-in user, with a
// refused form when fs is not nil, or the key of a token just issued.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, fs *formState, newToken string) {
	user := currentUser(r)
	tokens, err := s.tokenRows(r, user.Username)
	if err != nil {
		Error(w, r, err)
		return
	}
	view := userView{User: user, Self: true, Tokens: tokens, NewToken: newToken, Notice: doneMessages[r.URL.Query().Get(doneParam)]}
	p := s.newPage(r, "account", "Your account", status)
	if fs != nil {
		p.Form, p.Status = fs, fs.status
	}
	s.writePage(w, r, p.with(view))
}

func (s *Server) handleAccountChange(w http.ResponseWriter, r *http.Request) {
	user := s.pageUser(w, r, false)
	if user == nil {
		return
	}
	form, err := postedForm(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	refuse := func(err error) {
		if !isFormRefusal(err) {
			Error(w, r, err)
			return
		}
		s.renderAccount(w, r, 0, refusedForm(form, err), "")
	}
	accountPath := s.cfg.Prefix + "account/"
	switch form.Get(actionField) {
	case actionPassword:
		p := registry.Problems{}
		if current := form.Get("current_password"); current == "" {
			p.Add("current_password", registry.MsgBlank)
		} else {
			address := clientAddress(r, s.cfg.TrustProxy)
			if wait := s.throttle.wait(user.Username, address); wait > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(wait))
				refuse(throttled(wait))
				return
			}
			if !s.credentials.check(user, current) {
				s.throttle.fail(user.Username, address)
				p.Add("current_password", msgCurrentPassword)
			} else {
				s.throttle.succeed(user.Username)
			}
		}
		if p.Has("current_password") {
			// Hash nothing for a caller who does not know the password.
			refuse(p.Err())
			return
		}
		hash := newPasswordHash(form, p)
		if err := p.Err(); err != nil {
			refuse(err)
			return
		}
		if _, err := s.store.UpdateUser(r.Context(), user.Username, registry.UserUpdate{PasswordHash: &hash}); err != nil {
			refuse(err)
			return
		}
		if !s.renewSession(w, r, user.Username) {
			return
		}
		seeOther(w, accountPath+"?"+doneParam+"=own-password")
	case actionIssueToken:
		key, err := s.issueToken(r, user.Username)
		if err != nil {
			Error(w, r, err)
			return
		}
		s.renderAccount(w, r, http.StatusOK, nil, key)
	case actionRevokeToken:
		if err := s.revokeToken(r, user.Username, form.Get("token")); err != nil {
			refuse(err)
			return
		}
		seeOther(w, accountPath+"?"+doneParam+"="+actionRevokeToken)
	default:
		refuse(errUnknownAction)
	}
}
