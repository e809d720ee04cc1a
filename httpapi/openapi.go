package httpapi

import (
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The API documentation is made from s.endpoints, the table every route is
// registered from (handleAt), so that what the documentation lists and
// what the router serves cannot drift apart: a route added anywhere with
// s.handle appears in openapi.json and on docs/ at once. Endpoints may add
// what the table cannot guess (query parameters, the type they answer).

// paramSpec describes a query or path parameter.
type paramSpec struct {
	Name        string
	Description string
	Type        string // "string" (default), "integer", "boolean"
	Pattern     string // for path parameters: the route's pattern
}

// apiError is one refusal an operation may answer.
type apiError struct {
	Status int
	When   string
}

// apiOperation is one method of one route, as the documentation shows it.
type apiOperation struct {
	Method      string
	Path        string // OpenAPI template: {name} without the pattern
	Name        string
	Description string
	Tag         string
	Permission  string
	PathParams  []paramSpec
	Query       []paramSpec
	// Body lists the writable fields of the body, for methods that take one.
	Body         []fieldSpec
	BodyRequired bool
	Success      int
	// Result is the wire type answered on success, nil when unknown.
	Result       reflect.Type
	ResultFields []fieldSpec // when Result is nil: the fields of the record
	MediaType    string      // of the success answer
	Errors       []apiError
}

// pathParamPattern finds the {name:pattern} variables of a route template.
var pathParamPattern = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*(?:\{[^{}]*\}[^{}]*)*))?\}`)

// openAPIPath turns a route template into an OpenAPI path and its
// parameters.
func openAPIPath(template string) (string, []paramSpec) {
	var params []paramSpec
	path := pathParamPattern.ReplaceAllStringFunc(template, func(m string) string {
		sub := pathParamPattern.FindStringSubmatch(m)
		p := paramSpec{Name: sub[1], Type: "string", Pattern: sub[2]}
		switch sub[1] {
		case "name":
			p.Description = "The name of the record (a slug)."
		case "archive":
			p.Description = "The name of an archive."
		case "file":
			p.Description = "The name of a file."
		}
		params = append(params, p)
		return "{" + sub[1] + "}"
	})
	return path, params
}

// permissionText says who may call a method.
func permissionText(p permission) string {
	switch p {
	case editors:
		return "editors and administrators"
	case admins:
		return "administrators"
	}
	return "anyone"
}

// formatQuery is the parameter every GET takes.
var formatQuery = paramSpec{Name: formatParam, Description: "json (the default for clients) or api (the HTML page a browser gets)."}

// operations lists every method of every registered route, in the order
// routes were registered and methods in the order of Allow.
func (s *Server) operations() []apiOperation {
	var out []apiOperation
	for _, re := range s.endpoints {
		e := re.endpoint
		path, pathParams := openAPIPath(re.template)
		tag := e.tag
		if tag == "" {
			rest := strings.TrimPrefix(path, s.cfg.Prefix)
			tag, _, _ = strings.Cut(rest, "/")
			if tag == "" || strings.HasPrefix(tag, "{") || !strings.HasPrefix(path, s.cfg.Prefix) {
				tag = "root"
			}
		}
		for _, name := range e.allowed() {
			op := apiOperation{
				Method: name, Path: path, Name: e.name, Description: e.description, Tag: tag,
				PathParams: pathParams, MediaType: "application/json",
			}
			lookup := name
			if name == http.MethodHead {
				lookup = http.MethodGet
			}
			m, served := e.methods[lookup]
			op.Permission = permissionText(m.perm)
			op.Query = m.query
			switch name {
			case http.MethodOptions:
				op.Description = "Describes the endpoint: its name, description, allowed methods, media types and writable fields."
				op.Permission = "anyone"
				op.Success = http.StatusOK
				op.Result = reflect.TypeOf(optionsJSON{})
				op.Query = nil
			case http.MethodGet, http.MethodHead:
				op.Success = http.StatusOK
				op.Query = append(append([]paramSpec{}, m.query...), formatQuery)
			case http.MethodPost:
				op.Success = http.StatusCreated
			case http.MethodDelete:
				op.Success = http.StatusNoContent
			default:
				op.Success = http.StatusOK
			}
			if served {
				if m.status != 0 {
					op.Success = m.status
				}
				if m.result != nil {
					op.Result = reflect.TypeOf(m.result)
				}
				switch name {
				case http.MethodPost, http.MethodPut, http.MethodPatch:
					op.Body, op.BodyRequired = writableFields(e, name)
				}
			}
			if e.bulk {
				op.Success = http.StatusOK
				op.MediaType = "application/x-ndjson"
			}
			if e.raw {
				op.MediaType = "*/*"
			}
			// Without a declared result, a write answers the record its
			// fields describe; a read's shape is left open rather than guessed.
			if op.Result == nil && op.Success != http.StatusNoContent && !e.raw && name != http.MethodGet && name != http.MethodHead {
				op.ResultFields = recordFields(e)
			}
			if name == http.MethodHead {
				op.Description = "As GET, without the body."
			}
			op.Errors = operationErrors(op, m)
			if e.probe {
				op.Errors = m.errors
			}
			out = append(out, op)
		}
	}
	return out
}

// writableFields returns the fields a write of method takes: its own, or
// for a PATCH those of the PUT with none required.
func writableFields(e *endpoint, method string) ([]fieldSpec, bool) {
	fields := e.methods[method].fields
	partial := false
	if fields == nil && method == http.MethodPatch {
		fields = e.methods[http.MethodPut].fields
		partial = true
	}
	var out []fieldSpec
	required := false
	for _, f := range fields {
		if f.ReadOnly {
			continue
		}
		if partial {
			f.Required = false
		}
		required = required || f.Required
		out = append(out, f)
	}
	return out, required
}

// recordFields returns every field (read-only ones included) the writes of
// e describe, which is the record it answers with.
func recordFields(e *endpoint) []fieldSpec {
	for _, name := range []string{http.MethodPut, http.MethodPost} {
		if m, ok := e.methods[name]; ok && m.fields != nil && !e.bulk {
			return m.fields
		}
	}
	return nil
}

// operationErrors lists the refusals op may answer.
func operationErrors(op apiOperation, m method) []apiError {
	var out []apiError
	hasBody := op.Method == http.MethodPost || op.Method == http.MethodPut || op.Method == http.MethodPatch
	if hasBody || len(op.Query) > 1 {
		out = append(out, apiError{http.StatusBadRequest, "a field or filter is invalid: {\"field\": [\"message\", ...]} (or non_field_errors), or {\"detail\": ...} for a body that cannot be read"})
	}
	forbidden := "credentials given are wrong or malformed"
	if m.perm != anyone {
		forbidden = "no credentials, wrong ones, or a user without permission (" + permissionText(m.perm) + " only); a session cookie without its CSRF token"
	}
	out = append(out, apiError{http.StatusForbidden, forbidden})
	if len(op.PathParams) > 0 {
		out = append(out, apiError{http.StatusNotFound, "no such record: {\"detail\": \"Not found.\"}"})
	} else if hasQuery(op.Query, pageParam) {
		out = append(out, apiError{http.StatusNotFound, "a page past the end: {\"detail\": \"Invalid page.\"}"})
	}
	out = append(out, apiError{http.StatusMethodNotAllowed, "a method the route does not serve; Allow lists those it does"})
	if hasBody {
		out = append(out, apiError{http.StatusRequestEntityTooLarge, "a body over the size limit"},
			apiError{http.StatusUnsupportedMediaType, "a body that is not JSON, a URL-encoded form or multipart form data"})
	}
	out = append(out, apiError{http.StatusTooManyRequests, "too many failed sign-ins from this user or address; Retry-After says when to try again"})
	return out
}

func hasQuery(params []paramSpec, name string) bool {
	for _, p := range params {
		if p.Name == name {
			return true
		}
	}
	return false
}

// openAPIDocument returns the OpenAPI 3.1 description of every route,
// served from serverURL (scheme and host: paths include the API root).
func (s *Server) openAPIDocument(serverURL string) map[string]any {
	schemas := map[string]any{
		"Detail": map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"detail": map[string]any{"type": "string"}},
			"required":             []string{"detail"},
			"additionalProperties": false,
		},
		"FieldErrors": map[string]any{
			"type":                 "object",
			"description":          "Messages per offending field; messages not tied to one field are under non_field_errors.",
			"additionalProperties": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}
	paths := map[string]any{}
	tags := map[string]bool{}
	ids := map[string]int{}
	for _, op := range s.operations() {
		id := operationID(op)
		// Two routes may share an endpoint (an older spelling of a path).
		if ids[id]++; ids[id] > 1 {
			id += strconv.Itoa(ids[id])
		}
		item, _ := paths[op.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.Path] = item
		}
		tags[op.Tag] = true
		o := map[string]any{
			"operationId": id,
			"summary":     op.Name,
			"description": op.Description + " Permission: " + op.Permission + ".",
			"tags":        []string{op.Tag},
		}
		var params []any
		for _, p := range op.PathParams {
			schema := map[string]any{"type": "string"}
			if p.Pattern != "" {
				schema["pattern"] = "^" + p.Pattern + "$"
			}
			params = append(params, map[string]any{"name": p.Name, "in": "path", "required": true, "description": p.Description, "schema": schema})
		}
		for _, p := range op.Query {
			t := p.Type
			if t == "" {
				t = "string"
			}
			params = append(params, map[string]any{"name": p.Name, "in": "query", "description": p.Description, "schema": map[string]any{"type": t}})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.Body != nil {
			schema := fieldsSchema(op.Body, true)
			if op.BodyRequired {
				o["requestBody"] = map[string]any{"required": true, "content": bodyContent(schema)}
			} else {
				o["requestBody"] = map[string]any{"content": bodyContent(schema)}
			}
		} else if op.MediaType == "application/x-ndjson" {
			// A bulk read without described fields still takes names.
			o["requestBody"] = map[string]any{"required": true, "content": bodyContent(map[string]any{
				"type": "object", "properties": map[string]any{"names": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
				"required": []string{"names"}})}
		}
		responses := map[string]any{}
		success := map[string]any{"description": http.StatusText(op.Success)}
		if op.Success != http.StatusNoContent && op.Method != http.MethodHead && op.Success < 300 {
			var schema any = map[string]any{}
			switch {
			case op.Result != nil:
				schema = typeSchema(op.Result, schemas)
			case op.ResultFields != nil:
				schema = fieldsSchema(op.ResultFields, false)
			}
			content := map[string]any{op.MediaType: map[string]any{"schema": schema}}
			if op.MediaType == "application/json" && op.Method == http.MethodGet {
				content["text/html"] = map[string]any{"schema": map[string]any{"type": "string", "description": "The page of the web interface, for browsers and ?format=api."}}
			}
			success["content"] = content
		}
		if op.Success >= 300 && op.Success < 400 {
			success["headers"] = map[string]any{"Location": map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		if op.Method == http.MethodGet && hasQuery(op.Query, pageParam) {
			success["headers"] = map[string]any{"Link": map[string]any{
				"description": "URLs of the first, prev, next and last pages (RFC 8288), keeping every filter.",
				"schema":      map[string]any{"type": "string"}}}
		}
		responses[strconv.Itoa(op.Success)] = success
		for _, e := range op.Errors {
			ref := "#/components/schemas/Detail"
			if e.Status == http.StatusBadRequest {
				ref = "#/components/schemas/FieldErrors"
			}
			responses[strconv.Itoa(e.Status)] = map[string]any{
				"description": e.When,
				"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": ref}}},
			}
		}
		o["responses"] = responses
		item[strings.ToLower(op.Method)] = o
	}
	version := s.cfg.Version
	if version == "" {
		version = "unknown"
	}
	var tagList []any
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		tagList = append(tagList, map[string]any{"name": t})
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "nbreg",
			"version":     version,
			"summary":     "The neurobank registry protocol, as served by nbreg.",
			"description": "Names of research data resources, the archives that hold them and their metadata. Bodies are accepted as JSON, URL-encoded forms or multipart form data (in forms a list field repeats its key and metadata is a JSON string). Anyone may read; writes need Basic auth, an API token (Authorization: Token <key>) or a session cookie with its CSRF token.",
			"license":     map[string]any{"name": "See the nbreg repository"},
		},
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"servers":           []any{map[string]any{"url": serverURL}},
		"tags":              tagList,
		"paths":             paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"basic":   map[string]any{"type": "http", "scheme": "basic"},
				"token":   map[string]any{"type": "apiKey", "in": "header", "name": "Authorization", "description": "Token <key> or Bearer <key>"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookieName},
			},
		},
		"security": []any{map[string]any{}, map[string]any{"basic": []string{}}, map[string]any{"token": []string{}}, map[string]any{"session": []string{}}},
	}
}

// operationID names an operation uniquely: its endpoint and method.
func operationID(op apiOperation) string {
	var b strings.Builder
	for _, word := range strings.Fields(op.Name) {
		b.WriteString(strings.ToUpper(word[:1]) + word[1:])
	}
	b.WriteString(strings.ToUpper(op.Method[:1]) + strings.ToLower(op.Method[1:]))
	return b.String()
}

func bodyContent(schema map[string]any) map[string]any {
	return map[string]any{
		"application/json":                  map[string]any{"schema": schema},
		"application/x-www-form-urlencoded": map[string]any{"schema": schema},
		"multipart/form-data":               map[string]any{"schema": schema},
	}
}

// fieldsSchema is the JSON Schema of an object with fields; forInput
// leaves out read-only ones and lists required ones.
func fieldsSchema(fields []fieldSpec, forInput bool) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range fields {
		if forInput && f.ReadOnly {
			continue
		}
		p := map[string]any{"title": f.Label}
		switch f.Type {
		case "boolean":
			p["type"] = "boolean"
		case "json":
			p["type"] = []string{"object", "null"}
		case "list":
			p["type"] = "array"
			p["items"] = map[string]any{"type": "string"}
		case "datetime":
			p["type"] = "string"
			p["format"] = "date-time"
		case "choice":
			p["type"] = "string"
			p["enum"] = f.Choices
		default:
			p["type"] = "string"
		}
		if f.MaxLength > 0 {
			p["maxLength"] = f.MaxLength
		}
		if f.ReadOnly {
			p["readOnly"] = true
		}
		props[f.Name] = p
		if f.Required && forInput {
			required = append(required, f.Name)
		}
	}
	out := map[string]any{"type": "object", "properties": props}
	if required != nil {
		out["required"] = required
	}
	return out
}

var (
	jsonTimeType   = reflect.TypeOf(jsonTime{})
	metadataType   = reflect.TypeOf((*metadataValue)(nil)).Elem()
	timeType       = reflect.TypeOf(time.Time{})
	fieldSpecsType = reflect.TypeOf(fieldSpecs{})
)

// typeSchema is the JSON Schema of the wire type t; named structs go to
// components/schemas under their name without the JSON suffix.
func typeSchema(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == jsonTimeType || t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == metadataType:
		return map[string]any{"type": []string{"object", "null"},
			"description": "A JSON object, or null when never set. A registry imported from django-neurobank may hold " +
				"a string, number, boolean or list here (django-neurobank accepted them); writes take objects only."}
	case t == fieldSpecsType:
		// Marshalled as an object keyed by field name (MarshalJSON).
		return map[string]any{"type": "object", "additionalProperties": typeSchema(reflect.TypeOf(fieldJSON{}), schemas)}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Pointer:
		inner := typeSchema(t.Elem(), schemas)
		if typ, ok := inner["type"].(string); ok {
			inner["type"] = []string{typ, "null"}
		}
		return inner
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), schemas)}
	case reflect.Struct:
		name := strings.TrimSuffix(t.Name(), "JSON")
		if name == "" {
			name = "Object"
		}
		name = strings.ToUpper(name[:1]) + name[1:]
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // guards against recursion
			props := map[string]any{}
			var required []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				tag := f.Tag.Get("json")
				key, opts, _ := strings.Cut(tag, ",")
				if key == "-" || !f.IsExported() {
					continue
				}
				if key == "" {
					key = f.Name
				}
				props[key] = typeSchema(f.Type, schemas)
				if !strings.Contains(opts, "omitempty") {
					required = append(required, key)
				}
			}
			schema := map[string]any{"type": "object", "properties": props}
			if required != nil {
				schema["required"] = required
			}
			schemas[name] = schema
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}
