// Package assets holds the web interface's templates and static files,
// embedded in the binary so that a registry on a closed network needs
// nothing from the internet.
package assets

import "embed"

// FS holds templates/*.html (html/template sources, one page each plus the
// shared layout) and static/ (the stylesheet and the one small script),
// served under the API root's static/ path.
//
//go:embed templates/*.html static/*
var FS embed.FS
