package registry

import "strings"

// Length limits of datatype fields.
const (
	MaxContentType = 128
	MaxExtension   = 8
)

// DataType says what kind of thing a resource is: how to read it, what file
// extension it takes, and whether the registry may serve its bytes.
type DataType struct {
	Name         string
	ContentType  string // a MIME type or a link to a specification; may be empty
	Extension    string // without a leading dot; may be empty
	Downloadable bool
}

// Normalize tidies input before validation: an extension loses a leading dot.
func (d *DataType) Normalize() {
	d.Extension = strings.TrimLeft(d.Extension, ".")
}

// Validate returns an EINVALID error listing every broken rule, or nil.
func (d *DataType) Validate() error {
	p := Problems{}
	checkName(p, "name", d.Name, MaxDataTypeName)
	checkLength(p, "content_type", d.ContentType, MaxContentType)
	checkLength(p, "extension", d.Extension, MaxExtension)
	return p.Err()
}

// DataTypeUpdate lists the datatype fields to change; nil means unchanged.
// Only administrators change datatypes, from the command line.
type DataTypeUpdate struct {
	ContentType  *string
	Extension    *string
	Downloadable *bool
}

// FileName is the file name of a resource called name whose datatype has
// extension ext: the name plus "." and the extension, unless the extension
// is empty or the name already has a suffix.
func FileName(name, ext string) string {
	ext = strings.TrimLeft(ext, ".")
	if ext == "" || strings.Contains(name, ".") {
		return name
	}
	return name + "." + ext
}
