package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"nbreg/registry"
)

// requestBody is a decoded request body: a JSON value, or the fields of a
// form.
type requestBody struct {
	// object holds the members of a JSON object body.
	object map[string]json.RawMessage
	// form holds the fields of a form body; a list field repeats its key.
	form url.Values
	// notObject is the Python-style type name of a JSON body that is not an
	// object ("list", "str"...), which no endpoint accepts.
	notObject string
}

// isForm reports whether the body came as a form.
func (b *requestBody) isForm() bool { return b.form != nil }

// errNotObject is the validation error of a JSON body that is not an object.
func (b *requestBody) errNotObject() error {
	return registry.FieldError(registry.EINVALID, registry.NonField,
		fmt.Sprintf("Invalid data. Expected a dictionary, but got %s.", b.notObject))
}

// readBody decodes the body of r once, by its Content-Type, and remembers
// the result for later callers (authentication reads the CSRF token of a
// form; the handler reads the rest).
func readBody(r *http.Request) (*requestBody, error) {
	st := stateOf(r)
	if !st.bodyRead {
		st.body, st.bodyErr = decodeBody(r)
		st.bodyRead = true
	}
	return st.body, st.bodyErr
}

func decodeBody(r *http.Request) (*requestBody, error) {
	var raw []byte
	if r.Body != nil {
		var err error
		raw, err = io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		} else if err != nil {
			return nil, badRequest("Could not read the request body.")
		}
	}
	contentType := r.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(contentType)
	if len(raw) == 0 {
		// Like Django REST framework: no body is no data, whatever the type.
		if mediaType == "application/x-www-form-urlencoded" || mediaType == "multipart/form-data" {
			return &requestBody{form: url.Values{}}, nil
		}
		return &requestBody{object: map[string]json.RawMessage{}}, nil
	}
	if err != nil {
		return nil, unsupportedMediaType(contentType)
	}
	switch mediaType {
	case "application/json":
		return decodeJSONBody(raw)
	case "application/x-www-form-urlencoded":
		// Form decoding is lenient, as Django's is: what parses is kept.
		form, _ := url.ParseQuery(string(raw))
		return &requestBody{form: form}, nil
	case "multipart/form-data":
		return decodeMultipart(raw, params["boundary"])
	}
	return nil, unsupportedMediaType(contentType)
}

func decodeJSONBody(raw []byte) (*requestBody, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, jsonParseError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("JSON parse error - Extra data after the JSON value")
	}
	if kind := pythonType(v); kind != "dict" {
		return &requestBody{notObject: kind}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v, &obj); err != nil {
		return nil, jsonParseError(err)
	}
	return &requestBody{object: obj}, nil
}

// jsonParseError explains a malformed JSON body without Go type names.
func jsonParseError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return badRequest(fmt.Sprintf("JSON parse error - %s (at byte %d)", syntax.Error(), syntax.Offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("JSON parse error - unexpected end of JSON input")
	}
	return badRequest("JSON parse error - " + err.Error())
}

func decodeMultipart(raw []byte, boundary string) (*requestBody, error) {
	if boundary == "" {
		return nil, badRequest("Multipart form parse error - Invalid boundary in multipart: None")
	}
	mr := multipart.NewReader(bytes.NewReader(raw), boundary)
	form, err := mr.ReadForm(int64(len(raw)) + 1<<10)
	if err != nil {
		return nil, badRequest("Multipart form parse error - " + err.Error())
	}
	// Files are not fields of any record; drop whatever was kept of them.
	defer form.RemoveAll()
	values := url.Values{}
	for k, vs := range form.Value {
		values[k] = vs
	}
	return &requestBody{form: values}, nil
}

// pythonType names the type of a JSON value as Python (and so the messages
// of Django REST framework) does.
func pythonType(v json.RawMessage) string {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return "NoneType"
	}
	switch v[0] {
	case '{':
		return "dict"
	case '[':
		return "list"
	case '"':
		return "str"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(v, ".eE") {
		return "float"
	}
	return "int"
}

// fieldRule says how a body field may be given.
type fieldRule struct {
	required   bool // must be given (except in a partial update)
	allowBlank bool // "" is a value
	allowNull  bool // null is accepted and means "not given"
}

// fieldDecoder reads the fields of a body one by one, collecting a message
// for every field that is wrong, so that a client learns all its mistakes
// at once.
type fieldDecoder struct {
	body *requestBody
	// partial is set for PATCH: no field is required.
	partial  bool
	problems registry.Problems
}

// newFieldDecoder returns a decoder of the body of r, or the error of a body
// that cannot hold fields.
func newFieldDecoder(r *http.Request, partial bool) (*fieldDecoder, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if body.notObject != "" {
		return nil, body.errNotObject()
	}
	return &fieldDecoder{body: body, partial: partial, problems: registry.Problems{}}, nil
}

// check returns every problem found: those of decoding, plus the field
// problems of validation (the error of a domain Validate, or nil) except on
// fields that already failed to decode, whose value was never read.
func (d *fieldDecoder) check(validation error) error {
	var e *registry.Error
	if validation != nil && (!errors.As(validation, &e) || len(e.Fields) == 0) {
		return validation
	}
	if e != nil {
		for field, msgs := range e.Fields {
			if !d.problems.Has(field) {
				for _, m := range msgs {
					d.problems.Add(field, m)
				}
			}
		}
	}
	return d.problems.Err()
}

// missing records the problem of an absent field, if it is one.
func (d *fieldDecoder) missing(name string, rule fieldRule) {
	if rule.required && !d.partial {
		d.problems.Add(name, registry.MsgRequired)
	}
}

// formValue returns the last value of a form field, as Django does.
func (d *fieldDecoder) formValue(name string) (string, bool) {
	vs, ok := d.body.form[name]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// formEmpty handles "" in a form, where an untouched input arrives empty:
// it is a value only where blank is allowed, "not given" for an optional
// field, and a blank error for a required one. It reports whether "" is
// the value of the field.
func (d *fieldDecoder) formEmpty(name string, rule fieldRule) bool {
	switch {
	case rule.allowBlank:
		return true
	case rule.required:
		d.problems.Add(name, registry.MsgBlank)
	}
	return false
}

// String reads a string field. JSON numbers are accepted as their text, as
// Django REST framework does.
func (d *fieldDecoder) String(name string, rule fieldRule) (string, bool) {
	if d.body.isForm() {
		v, ok := d.formValue(name)
		if !ok {
			d.missing(name, rule)
			return "", false
		}
		if v == "" {
			return "", d.formEmpty(name, rule)
		}
		return v, true
	}
	raw, ok := d.body.object[name]
	if !ok {
		d.missing(name, rule)
		return "", false
	}
	switch pythonType(raw) {
	case "NoneType":
		if !rule.allowNull {
			d.problems.Add(name, registry.MsgNull)
		}
		return "", false
	case "str":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			d.problems.Add(name, "Not a valid string.")
			return "", false
		}
		if s == "" && !rule.allowBlank {
			d.problems.Add(name, registry.MsgBlank)
			return "", false
		}
		return s, true
	case "int", "float":
		return string(bytes.TrimSpace(raw)), true
	}
	d.problems.Add(name, "Not a valid string.")
	return "", false
}

// Words Django REST framework takes for true and false.
var (
	trueWords  = map[string]bool{"t": true, "y": true, "yes": true, "true": true, "on": true, "1": true}
	falseWords = map[string]bool{"f": true, "n": true, "no": true, "false": true, "off": true, "0": true, "0.0": true}
)

// parseBool reads the words of trueWords and falseWords in the cases Django
// REST framework accepts (lower, Title, UPPER).
func parseBool(s string) (value, ok bool) {
	if s != strings.ToLower(s) && s != strings.ToUpper(s) && s != strings.ToUpper(s[:1])+strings.ToLower(s[1:]) {
		return false, false
	}
	t := strings.ToLower(s)
	switch {
	case trueWords[t]:
		return true, true
	case falseWords[t]:
		return false, true
	}
	return false, false
}

// Bool reads a boolean field.
func (d *fieldDecoder) Bool(name string, rule fieldRule) (bool, bool) {
	const invalid = "Must be a valid boolean."
	var text string
	if d.body.isForm() {
		v, ok := d.formValue(name)
		if !ok {
			d.missing(name, rule)
			return false, false
		}
		if v == "" {
			d.formEmpty(name, rule)
			return false, false
		}
		text = v
	} else {
		raw, ok := d.body.object[name]
		if !ok {
			d.missing(name, rule)
			return false, false
		}
		switch pythonType(raw) {
		case "NoneType":
			if !rule.allowNull {
				d.problems.Add(name, registry.MsgNull)
			}
			return false, false
		case "str":
			if err := json.Unmarshal(raw, &text); err != nil {
				d.problems.Add(name, invalid)
				return false, false
			}
		case "bool", "int", "float":
			text = string(bytes.TrimSpace(raw))
		default:
			d.problems.Add(name, invalid)
			return false, false
		}
	}
	if text == "" {
		d.problems.Add(name, invalid)
		return false, false
	}
	v, ok := parseBool(text)
	if !ok {
		d.problems.Add(name, invalid)
		return false, false
	}
	return v, true
}

// StringList reads a list of strings: a JSON array, or a repeated form key.
func (d *fieldDecoder) StringList(name string, rule fieldRule) ([]string, bool) {
	if d.body.isForm() {
		vs, ok := d.body.form[name]
		if !ok {
			d.missing(name, rule)
			return nil, false
		}
		out := make([]string, 0, len(vs))
		for _, v := range vs {
			if v != "" {
				out = append(out, v)
			}
		}
		return out, true
	}
	raw, ok := d.body.object[name]
	if !ok {
		d.missing(name, rule)
		return nil, false
	}
	switch kind := pythonType(raw); kind {
	case "NoneType":
		if !rule.allowNull {
			d.problems.Add(name, registry.MsgNull)
		}
		return nil, false
	case "list":
	default:
		d.problems.Add(name, fmt.Sprintf("Expected a list of items but got type %q.", kind))
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.problems.Add(name, "Not a valid list.")
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		switch pythonType(item) {
		case "str":
			var s string
			if err := json.Unmarshal(item, &s); err == nil && s != "" {
				out = append(out, s)
				continue
			}
			if !d.problems.Has(name) {
				d.problems.Add(name, registry.MsgBlank)
			}
		case "int", "float":
			out = append(out, string(bytes.TrimSpace(item)))
		default:
			if !d.problems.Has(name) {
				d.problems.Add(name, "Not a valid string.")
			}
		}
	}
	if d.problems.Has(name) {
		return nil, false
	}
	return out, true
}

// Object reads a JSON object field. In a form it arrives as a string of
// JSON.
func (d *fieldDecoder) Object(name string, rule fieldRule) (registry.Metadata, bool) {
	var raw []byte
	if d.body.isForm() {
		v, ok := d.formValue(name)
		if !ok {
			d.missing(name, rule)
			return nil, false
		}
		if strings.TrimSpace(v) == "" {
			d.formEmpty(name, fieldRule{required: rule.required && !d.partial})
			return nil, false
		}
		raw = []byte(v)
		if !json.Valid(raw) {
			d.problems.Add(name, "Value must be valid JSON.")
			return nil, false
		}
	} else {
		var ok bool
		raw, ok = d.body.object[name]
		if !ok {
			d.missing(name, rule)
			return nil, false
		}
	}
	switch kind := pythonType(raw); kind {
	case "dict":
	case "NoneType":
		if !rule.allowNull {
			d.problems.Add(name, registry.MsgNull)
		}
		return nil, false
	default:
		d.problems.Add(name, fmt.Sprintf("Expected a dictionary of items but got type %q.", kind))
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m registry.Metadata
	if err := dec.Decode(&m); err != nil {
		d.problems.Add(name, "Value must be valid JSON.")
		return nil, false
	}
	return m, true
}

// Accessibility reads an archive's accessibility: a label in any case or its
// number.
func (d *fieldDecoder) Accessibility(name string, rule fieldRule) (registry.Accessibility, bool) {
	v, ok := d.String(name, rule)
	if !ok {
		return registry.Local, false
	}
	a, err := registry.ParseAccessibility(v)
	if err != nil {
		d.problems.Add(name, fmt.Sprintf("%q is not a valid choice.", v))
		return registry.Local, false
	}
	return a, true
}
