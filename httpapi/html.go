package httpapi

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"nbreg/assets"
	"nbreg/registry"
)

// The web interface answers the API's own URLs with pages made from the
// same values as the JSON (see renderJSON): handlers do not know about it.
// A page is chosen by the endpoint that answered; forms post to the API
// endpoints themselves, and what a browser needs besides (a redirect after
// a write, a failed form shown again with its messages) is done here.

// formState is a failed form being shown again: the status of the refusal,
// the messages per field (or the one detail) and what the user typed.
type formState struct {
	status int
	errors map[string][]string
	detail string
	values url.Values
}

// webPage is what every template receives.
type webPage struct {
	Template string
	Title    string
	Prefix   string
	Path     string // of the request, for "next" fields
	User     *registry.User
	CanEdit  bool
	IsAdmin  bool
	CSRF     string
	Status   int
	// APIURL is the absolute URL of the JSON answer shown, without any
	// format parameter: what a script would fetch. JSONURL shows the JSON
	// in the browser.
	APIURL  string
	JSONURL string
	JSON    string
	Form    *formState
	Content any
}

// Errors returns the messages of a field of the failed form, if any.
func (p *webPage) Errors(field string) []string {
	if p.Form == nil {
		return nil
	}
	return p.Form.errors[field]
}

// Value returns what the user typed into a field of the failed form, or
// def when there is no failed form.
func (p *webPage) Value(field, def string) string {
	if p.Form == nil || p.Form.values == nil {
		return def
	}
	return p.Form.values.Get(field)
}

// Values returns every value of a repeated field of the failed form.
func (p *webPage) Values(field string) []string {
	if p.Form == nil || p.Form.values == nil {
		return nil
	}
	return p.Form.values[field]
}

// Failed reports whether a form is being shown again.
func (p *webPage) Failed() bool { return p.Form != nil }

// FormDetail is the message of a refused form that concerns no one field.
func (p *webPage) FormDetail() string {
	if p.Form == nil {
		return ""
	}
	return p.Form.detail
}

// templates holds one template set per page, each the layout plus the page.
var (
	templatesOnce sync.Once
	templates     map[string]*template.Template
)

var templateFuncs = template.FuncMap{
	"contains": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
	"pathEscape":  url.PathEscape,
	"metaSummary": metaSummary,
	"tokenForms": func(p *webPage, action, username string) tokenForms {
		return tokenForms{Page: p, Action: action, Username: username}
	},
}

// tokenForms is what the "tokens" template needs: the page (a userView
// content), where its forms post, and the user they name ("" on the
// account page, which is always the signed-in user's).
type tokenForms struct {
	Page     *webPage
	Action   string
	Username string
}

func loadTemplates() map[string]*template.Template {
	templatesOnce.Do(func() {
		templates = map[string]*template.Template{}
		names, err := fs.Glob(assets.FS, "templates/*.html")
		if err != nil {
			panic(err)
		}
		for _, name := range names {
			base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
			if base == "layout" {
				continue
			}
			templates[base] = template.Must(template.New("layout.html").Funcs(templateFuncs).
				ParseFS(assets.FS, "templates/layout.html", name))
		}
	})
	return templates
}

// newPage returns a page for r with what every page shows: who is signed
// in, the CSRF token of their session, the URLs of the JSON.
func (s *Server) newPage(r *http.Request, templateName, title string, status int) *webPage {
	user := currentUser(r)
	p := &webPage{
		Template: templateName,
		Title:    title,
		Prefix:   s.cfg.Prefix,
		Path:     r.URL.Path,
		User:     user,
		CanEdit:  user != nil && user.Role.CanWrite(),
		IsAdmin:  user != nil && user.Role.IsAdmin(),
		CSRF:     s.pageCSRF(r),
		Status:   status,
		Form:     stateOf(r).rerender,
	}
	if p.Form != nil {
		p.Status = p.Form.status
	}
	q := r.URL.Query()
	raw := r.URL.RawQuery
	if q.Has(formatParam) {
		q.Del(formatParam)
		raw = q.Encode()
	}
	p.APIURL = s.requestScheme(r) + "://" + s.requestHost(r) + r.URL.EscapedPath()
	if raw != "" {
		p.APIURL += "?" + raw
	}
	q.Set(formatParam, formatJSON)
	p.JSONURL = r.URL.EscapedPath() + "?" + q.Encode()
	return p
}

// pageCSRF returns the CSRF token forms must carry for the session r signs
// in with, or "" when r has no valid session.
func (s *Server) pageCSRF(r *http.Request) string {
	c, err := r.Cookie(SessionCookieName)
	if err != nil || c.Value == "" || currentUser(r) == nil {
		return ""
	}
	key, err := s.sessionSecret(r.Context())
	if err != nil {
		return ""
	}
	if u, err := s.verifySession(r.Context(), key, c.Value); err != nil || u == nil {
		return ""
	}
	return csrfToken(key, c.Value)
}

// writePage renders p. A template that fails (a bug, never input) is
// logged and answered with a plain error rather than a half page.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, p *webPage) {
	t, ok := loadTemplates()[p.Template]
	if !ok {
		t = loadTemplates()["generic"]
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		stateOf(r).logger.Error("cannot render a page", "path", r.URL.Path, "template", p.Template, "error", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Vary", "Accept, Cookie")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	w.WriteHeader(p.Status)
	w.Write(buf.Bytes())
}

// prettyJSON returns v as indented JSON for showing.
func prettyJSON(v any) string {
	b, err := encodeJSON(v)
	if err != nil {
		return ""
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// renderHTML answers r, which wants a page, with the page of status and v,
// the value the JSON answer would carry. After a successful write it
// redirects (303) to the record's page, so that reloading does not post
// again; a refused form is shown again with its messages.
func (s *Server) renderHTML(w http.ResponseWriter, r *http.Request, status int, v any) {
	st := stateOf(r)
	if status >= 400 {
		if s.rerenderForm(w, r, status, v) {
			return
		}
		s.renderErrorPage(w, r, status, v)
		return
	}
	if !isSafeMethod(r.Method) {
		w.Header().Set("Location", nextTarget(r, s.cfg.Prefix, s.recordPath(v, r.URL.Path)))
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	if st.rerender != nil {
		status = st.rerender.status
	}
	name := ""
	if st.endpoint != nil {
		name = st.endpoint.name
	}
	build, ok := pageBuilders[name]
	if !ok {
		build = (*Server).genericPage
	}
	p := build(s, w, r, status, v)
	if p == nil {
		// The builder answered itself (a redirect).
		return
	}
	p.JSON = prettyJSON(v)
	s.writePage(w, r, p)
}

// rerenderForm shows a refused form again: it serves the GET of the same
// endpoint with the messages and values of the form attached, so that the
// page is the one the form was on. It reports whether it answered.
func (s *Server) rerenderForm(w http.ResponseWriter, r *http.Request, status int, v any) bool {
	st := stateOf(r)
	if status != http.StatusBadRequest && status != http.StatusForbidden && status != http.StatusTooManyRequests {
		return false
	}
	if isSafeMethod(r.Method) || st.rerender != nil || st.endpoint == nil {
		return false
	}
	get, ok := st.endpoint.methods[http.MethodGet]
	if !ok {
		return false
	}
	body, err := readBody(r)
	if err != nil || !body.isForm() {
		return false
	}
	fs := &formState{status: status, values: body.form}
	switch v := v.(type) {
	case map[string][]string:
		fs.errors = v
		fs.detail = strings.Join(v[registry.NonField], " ")
	case registry.Problems:
		fs.errors = v
		fs.detail = strings.Join(v[registry.NonField], " ")
	case detailJSON:
		fs.detail = v.Detail
	}
	st.rerender = fs
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodGet
	r2.Body = http.NoBody
	r2.ContentLength = 0
	get.handle(w, r2)
	return true
}

// errorView is the content of an error page.
type errorView struct {
	Heading  string
	Messages []string
	SignIn   bool
}

func (s *Server) renderErrorPage(w http.ResponseWriter, r *http.Request, status int, v any) {
	ev := errorView{Heading: http.StatusText(status)}
	switch v := v.(type) {
	case detailJSON:
		ev.Messages = []string{v.Detail}
	case map[string][]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, m := range v[k] {
				if k == registry.NonField {
					ev.Messages = append(ev.Messages, m)
				} else {
					ev.Messages = append(ev.Messages, k+": "+m)
				}
			}
		}
	}
	if status == http.StatusNotFound {
		ev.Heading = "Not found"
	}
	ev.SignIn = status == http.StatusForbidden && currentUser(r) == nil
	p := s.newPage(r, "error", strconv.Itoa(status)+" "+http.StatusText(status), status)
	p.Content = ev
	p.JSON = prettyJSON(v)
	s.writePage(w, r, p)
}

// recordPath is where a record written through a form is shown: its own
// page, or for a location the page of its resource.
func (s *Server) recordPath(v any, fallback string) string {
	switch v := v.(type) {
	case resourceJSON:
		return s.cfg.Prefix + "resources/" + url.PathEscape(v.Name) + "/"
	case dataTypeJSON:
		return s.cfg.Prefix + "datatypes/" + url.PathEscape(v.Name) + "/"
	case archiveJSON:
		return s.cfg.Prefix + "archives/" + url.PathEscape(v.Name) + "/"
	case locationJSON:
		return s.cfg.Prefix + "resources/" + url.PathEscape(v.ResourceName) + "/"
	}
	return fallback
}

// nextTarget returns where to go after a form: the form's (or the URL's)
// "next" when it is a path on this registry, else fallback. Only relative
// paths under the API root are followed, so that a crafted link cannot
// send a user to another site.
func nextTarget(r *http.Request, prefix, fallback string) string {
	next := r.URL.Query().Get("next")
	if body, err := readBody(r); err == nil && body.isForm() && body.form.Get("next") != "" {
		next = body.form.Get("next")
	}
	if safeNext(next, prefix) {
		return next
	}
	return fallback
}

// safeNext reports whether next is a path under prefix on this site.
func safeNext(next, prefix string) bool {
	if !strings.HasPrefix(next, prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return false
	}
	u, err := url.Parse(next)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, prefix)
}

// overrideMethod lets an HTML form, which can only GET or POST, ask for
// PUT, PATCH or DELETE with a _method field in a form body, as Django REST
// framework's browsable API did. Only form bodies are read for it: JSON
// clients say what they mean in the request line.
func overrideMethod(r *http.Request) {
	if r.Method != http.MethodPost {
		return
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "application/x-www-form-urlencoded" && mediaType != "multipart/form-data" {
		return
	}
	body, err := readBody(r)
	if err != nil || !body.isForm() {
		return
	}
	switch m := strings.ToUpper(body.form.Get(methodField)); m {
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		r.Method = m
	}
}

// methodField is the form field of overrideMethod.
const methodField = "_method"

// formResponseWriter turns the 204 of a write made by an HTML form into a
// redirect (303) to the form's "next", or to the parent of what was
// removed, so that the browser lands on a page.
type formResponseWriter struct {
	http.ResponseWriter
	r      *http.Request
	prefix string
}

func (w *formResponseWriter) WriteHeader(status int) {
	if status == http.StatusNoContent {
		w.Header().Set("Location", nextTarget(w.r, w.prefix, parentPath(w.r.URL.Path)))
		status = http.StatusSeeOther
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *formResponseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// parentPath returns the path one segment up: resources/x/ for
// resources/x/locations/a/, but resources/x/ again for its locations/ list.
func parentPath(path string) string {
	trimmed := strings.TrimSuffix(path, "/")
	i := strings.LastIndex(trimmed, "/")
	if i < 0 {
		return "/"
	}
	parent := trimmed[:i+1]
	if strings.HasSuffix(parent, "/locations/") {
		parent = strings.TrimSuffix(parent, "locations/")
	}
	return parent
}
