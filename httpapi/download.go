package httpapi

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/gorilla/mux"

	"nbreg/registry"
)

// fileScheme is the archive scheme whose files live on this machine in the
// layout the nbank client writes: <root>/resources/<first two characters of
// the name>/<name>[.<extension>].
const fileScheme = "neurobank"

// DefaultSendfilePrefix is where a fronting nginx serves archive files
// internally in --sendfile nginx mode: the file's absolute path follows it.
const DefaultSendfilePrefix = "/_nbreg_files"

// minDownloadRate is the slowest client a download waits for: the write
// deadline of a download grows with the file's size at this rate, so a large
// file is never cut by the server's WriteTimeout while a stalled client
// still is.
const minDownloadRate = 64 << 10 // bytes per second

// Refusals of a download, whose texts the nbank client prints.
var (
	errNotDownloadable = &statusError{http.StatusUnsupportedMediaType, "The resource is not of a downloadable datatype"}
	errNoFileScheme    = &statusError{http.StatusUnsupportedMediaType, "The requested resource is not in an archive that uses a scheme supported by this registry"}
)

func errFileMissing(name, dir string) error {
	return &statusError{http.StatusUnsupportedMediaType, fmt.Sprintf("Could not find resource '%s' in directory %s", name, dir)}
}

func errNotAFile(name, path string) error {
	return &statusError{http.StatusUnsupportedMediaType,
		fmt.Sprintf("Resource '%s' was found in directory %s, but it is not a file, so it cannot be downloaded", name, path)}
}

func (s *Server) registerDownloadRoutes() {
	e := &endpoint{
		name: "Resource Download",
		description: "The file of a resource whose datatype is downloadable, read from the first archive " +
			"with scheme neurobank that holds it on this machine. Supports Range requests.",
		methods: map[string]method{http.MethodGet: {handle: s.handleDownload}},
	}
	s.handle("download/{name:"+slug+"}/", e)
	// The older spelling has no trailing slash, and no slashed twin that
	// would turn it into a redirect.
	s.handle("resources/{name:"+slug+"}/download", e)
}

// archiveFile is a resource's file found in an archive.
type archiveFile struct {
	file *os.File
	info fs.FileInfo
	// path is the file's path on this machine, for a fronting proxy.
	path string
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	res, err := s.store.FindResource(r.Context(), name)
	if err != nil {
		if registry.ErrorCode(err) == registry.ENOTFOUND {
			err = errNoRoute
		}
		Error(w, r, err)
		return
	}
	dt, err := s.store.FindDataType(r.Context(), res.DType)
	if err != nil {
		Error(w, r, err)
		return
	}
	if !dt.Downloadable {
		Error(w, r, errNotDownloadable)
		return
	}
	locs, err := s.store.ListLocations(r.Context(), name, registry.LocationFilter{Scheme: fileScheme})
	if err != nil {
		Error(w, r, err)
		return
	}
	if len(locs) == 0 {
		Error(w, r, errNoFileScheme)
		return
	}
	// Archives are tried in the order of the locations list, the most
	// accessible first; when none holds the file, the refusal is about the
	// first, where the file was expected most.
	var found *archiveFile
	var refusal error
	for _, loc := range locs {
		f, err := findArchiveFile(loc.Root, name, dt.Extension)
		if err == nil {
			found = f
			break
		}
		var se *statusError
		if !errors.As(err, &se) {
			stateOf(r).logger.Warn("cannot read an archive", "archive", loc.ArchiveName, "resource", name, "error", err)
			err = errNotAFile(name, filepath.Join(loc.Root, "resources", shard(name), name))
		}
		if refusal == nil {
			refusal = err
		}
	}
	if found == nil {
		Error(w, r, refusal)
		return
	}
	defer found.file.Close()

	h := w.Header()
	h.Set("Content-Type", downloadContentType(dt.ContentType))
	h.Set("Content-Disposition", attachment(found.info.Name()))
	h.Set("X-Content-Type-Options", "nosniff")
	switch s.cfg.Sendfile {
	case "nginx":
		h.Set("X-Accel-Redirect", s.cfg.SendfilePrefix+(&url.URL{Path: found.path}).EscapedPath())
		w.WriteHeader(http.StatusOK)
		return
	case "apache":
		h.Set("X-Sendfile", found.path)
		w.WriteHeader(http.StatusOK)
		return
	}
	modTime := found.info.ModTime()
	h.Set("ETag", fileETag(found.info))
	// A large file at a slow but steady pace is not cut by WriteTimeout.
	deadline := writeTimeout + time.Duration(found.info.Size()/minDownloadRate)*time.Second
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(deadline))
	// Passing the *os.File lets net/http hand it to sendfile(2).
	http.ServeContent(w, r, found.info.Name(), modTime, found.file)
}

// shard is the directory under <root>/resources that holds the files of the
// resource called name: its first two characters.
func shard(name string) string {
	if len(name) > 2 {
		return name[:2]
	}
	return name
}

// findArchiveFile opens the file of resource name in the neurobank archive
// at root: <root>/resources/<xx>/<name>, or else <name>.<ext> with the
// datatype's extension, or else the first <name>.<anything> by name. Every
// path is opened through an os.Root on the archive root, so neither ".."
// nor a symbolic link can lead outside it; a link to a file inside the
// archive is followed. Only a regular file is served: a directory, a FIFO,
// a device or a link leading outside is refused as "not a file".
//
// It returns a *statusError refusal, or another error when the archive
// cannot be read at all.
func findArchiveFile(root, name, ext string) (*archiveFile, error) {
	dir := filepath.Join(root, "resources", shard(name))
	missing := errFileMissing(name, dir)
	// A relative root would depend on the server's working directory.
	if !filepath.IsAbs(root) {
		return nil, missing
	}
	ar, err := os.OpenRoot(root)
	if err != nil {
		return nil, missing
	}
	defer ar.Close()
	rel := "resources/" + shard(name) + "/"

	candidates := []string{name}
	if ext != "" {
		candidates = append(candidates, name+"."+ext)
	}
	var refusal error
	tried := map[string]bool{}
	try := func(entry string) *archiveFile {
		if tried[entry] {
			return nil
		}
		tried[entry] = true
		f, err := openRegular(ar, rel+entry)
		switch {
		case err == nil:
			return &archiveFile{file: f.file, info: f.info, path: filepath.Join(dir, entry)}
		case errors.Is(err, fs.ErrNotExist):
		default:
			if refusal == nil {
				refusal = errNotAFile(name, filepath.Join(dir, name))
			}
		}
		return nil
	}
	for _, c := range candidates {
		if f := try(c); f != nil {
			return f, nil
		}
	}
	entries, err := listWithPrefix(ar, rel, name+".")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if f := try(e); f != nil {
			return f, nil
		}
	}
	if refusal != nil {
		return nil, refusal
	}
	return nil, missing
}

// errNotRegular marks a path that exists but is not a regular file.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path inside ar if it is a regular file. The file is
// opened without blocking, so a FIFO planted in an archive cannot hang the
// request, and checked on the open descriptor, so it cannot be swapped
// between a check and the open.
func openRegular(ar *os.Root, path string) (*archiveFile, error) {
	f, err := ar.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, errNotRegular
	}
	return &archiveFile{file: f, info: info}, nil
}

// listWithPrefix returns the sorted names in directory dir of ar that start
// with prefix, reading the directory in batches so a large one costs no
// more memory than its matches.
func listWithPrefix(ar *os.Root, dir, prefix string) ([]string, error) {
	d, err := ar.Open(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out []string
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
		if err != nil || len(names) == 0 {
			break
		}
	}
	slices.Sort(out)
	return out, nil
}

// downloadContentType is the Content-Type of a download: the datatype's
// content type when it is a media type (some labs put a link to a
// specification there), else application/octet-stream, never a sniffed
// guess.
func downloadContentType(contentType string) string {
	if contentType != "" {
		if _, _, err := mime.ParseMediaType(contentType); err == nil {
			return contentType
		}
	}
	return "application/octet-stream"
}

// attachment is the Content-Disposition of a download saved as filename.
// A name that is not plain printable ASCII also travels in RFC 6266's
// filename* form, with an ASCII stand-in for old clients.
func attachment(filename string) string {
	plain := true
	fallback := []rune(filename)
	for i, c := range fallback {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) || c == '"' || c == '\\' {
			plain = false
			fallback[i] = '_'
		}
	}
	if plain {
		return `attachment; filename="` + filename + `"`
	}
	return `attachment; filename="` + string(fallback) + `"; filename*=UTF-8''` + url.PathEscape(filename)
}

// fileETag is a strong validator of a file's bytes from its size and
// modification time, as nginx makes them: cheap, and it changes whenever the
// file is rewritten. The resource's sha1 is not used: it describes the
// resource as registered, not the bytes now on disk.
func fileETag(info fs.FileInfo) string {
	return `"` + strconv.FormatInt(info.ModTime().UnixNano(), 16) + "-" + strconv.FormatInt(info.Size(), 16) + `"`
}
