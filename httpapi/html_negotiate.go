package httpapi

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Values of the format query parameter, which overrides the Accept header.
const (
	formatParam = "format"
	formatJSON  = "json"
	formatHTML  = "api" // as in Django REST framework's browsable API
)

// wantsHTML reports whether r should be answered with a page of the web
// interface rather than JSON: with ?format=api, or when the Accept header
// names text/html (or XHTML) with a higher preference than JSON. A browser
// sends "text/html,...,*/*;q=0.8" and gets HTML; the nbank client sends
// "application/json" or "*/*" and always gets JSON, as does a request with
// no Accept header or with anything this function cannot read.
func wantsHTML(r *http.Request) bool {
	if r.Method == http.MethodOptions {
		return false
	}
	switch r.URL.Query().Get(formatParam) {
	case formatJSON:
		return false
	case formatHTML:
		return true
	}
	htmlQ, jsonQ := -1.0, -1.0
	wildQ := -1.0
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mediaType, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		switch mediaType {
		case "text/html", "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case "application/json", "application/*":
			jsonQ = max(jsonQ, q)
		case "*/*":
			wildQ = max(wildQ, q)
		}
	}
	// JSON is acceptable at the strength of the wildcard when not named;
	// HTML only when named, so that "*/*" alone means JSON.
	if jsonQ < 0 {
		jsonQ = wildQ
	}
	return htmlQ > 0 && htmlQ > jsonQ
}
