package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAdminCommands and TestPostgresAdminCommands run one script of the
// admin-* commands and history, on a SQLite file and on a PostgreSQL
// database, while a server runs on it: each command's output, refusal
// and exit status are the same word for word on both stores, and the
// server shows each change at once.
func TestAdminCommands(t *testing.T) {
	h := newHome(t)
	runAdminScript(t, h, filepath.Join(h.dir, "registry.db"))
}

// TestPostgresAdminCommands is TestAdminCommands on PostgreSQL.
func TestPostgresAdminCommands(t *testing.T) {
	runAdminScript(t, newHome(t), newPostgresDatabase(t))
}

// adminStep is one command of the script and what it must leave behind.
type adminStep struct {
	name string
	// before runs ahead of the command, through the server.
	before func(t *testing.T)
	args   []string
	// stdout is the whole of standard output, its times masked (see
	// maskTimes).
	stdout string
	// stderr is the first line of standard error: all of it when the
	// command succeeds ("") or refuses (code 1); a usage mistake (code 2)
	// prints the usage after it.
	stderr string
	code   int
	// after checks, through the server, what the command changed.
	after func(t *testing.T)
}

// historyTime matches the times of history's table and JSON lines, which
// differ from run to run.
var historyTime = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z`)

// maskTimes replaces each time with one of the same width, so that a
// table keeps its columns.
func maskTimes(s string) string {
	return historyTime.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) == len("2006-01-02 15:04:05Z") {
			return "YYYY-MM-DD hh:mm:ssZ"
		}
		return "<time>"
	})
}

func runAdminScript(t *testing.T, h *home, db string) {
	fixture, err := filepath.Abs("testdata/django/dumpdata-natural.json")
	if err != nil {
		t.Fatal(err)
	}
	h.mustRun(t, "", "--db", db, "import", fixture)
	// Redirects are checked as they come, not followed.
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s := h.startServer(t, client, "--addr", "127.0.0.1:0", "--db", db)
	margot := basic("margot", "starling song")

	// status answers a GET of path, relative to the API root.
	status := func(t *testing.T, path string) int {
		t.Helper()
		code, _ := request(t, client, "GET", s.url+path, nil, nil)
		return code
	}
	wantStatus := func(t *testing.T, path string, want int) {
		t.Helper()
		if got := status(t, path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}
	// refusedCreate checks that the API refuses to create the record
	// body describes, for its name.
	refusedCreate := func(t *testing.T, path string, body map[string]any) {
		t.Helper()
		code, answer := request(t, client, "POST", s.url+path, body, margot)
		if code != http.StatusBadRequest || answer["name"] == nil {
			t.Errorf("POST %s %v: %d %v, want 400 about the name", path, body, code, answer)
		}
	}

	steps := []adminStep{
		{
			name: "Rename", args: []string{"admin-rename", "--as", "dmeliza", "heengei8", "st-unit-12"},
			stdout: "renamed resource heengei8 to st-unit-12\n",
			after: func(t *testing.T) {
				for _, path := range []string{"resources/heengei8/", "resources/heengei8/locations/", "resources/heengei8/history/"} {
					resp, err := client.Get(s.url + path)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					want := strings.TrimPrefix(s.url, "http://"+resp.Request.URL.Host) + strings.Replace(path, "heengei8", "st-unit-12", 1)
					if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
						t.Errorf("GET %s: %d to %q, want 301 to %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
					}
				}
				code, body := request(t, client, "GET", s.url+"resources/st-unit-12/", nil, nil)
				if code != http.StatusOK || body["name"] != "st-unit-12" || body["created_by"] != "dmeliza" {
					t.Errorf("GET the new name: %d %v", code, body)
				}
				refusedCreate(t, "resources/", map[string]any{"name": "heengei8", "dtype": "wav"})
			},
		},
		{
			name: "RenameToTakenName", args: []string{"admin-rename", "st-unit-12", "P120_1_b7"},
			stderr: `nbreg: the name "P120_1_b7" is taken: it belongs, or once belonged, to another resource.`, code: 1,
		},
		{
			name: "RenameOldName", args: []string{"admin-rename", "heengei8", "x"},
			stderr: "nbreg: heengei8 was renamed to st-unit-12: rename st-unit-12 instead.", code: 1,
		},
		{
			name: "RenameUnknown", args: []string{"admin-rename", "nothere", "x"},
			stderr: `nbreg: there is no resource named "nothere".`, code: 1,
		},
		{
			name: "RenameToBadName", args: []string{"admin-rename", "st-unit-12", "bad name"},
			stderr: "nbreg: name: can only contain letters, numbers, underscores, and hyphens.", code: 1,
		},
		{
			name: "RenameToSameName", args: []string{"admin-rename", "st-unit-12", "st-unit-12"},
			stderr: "nbreg: name: the new name is the name it already has.", code: 1,
		},
		{
			name: "RenameUnknownKind", args: []string{"admin-rename", "--kind", "planet", "a", "b"},
			stderr: `nbreg: --kind takes resource, archive or datatype, not "planet".`, code: 2,
		},
		{
			name: "RenameOneArgument", args: []string{"admin-rename", "a"},
			stderr: "nbreg: admin-rename takes exactly two arguments, the old name and the new one, and got 1.", code: 2,
		},
		{
			name: "RenameArchive", args: []string{"admin-rename", "--kind", "archive", "local", "starling-raid"},
			stdout: "renamed archive local to starling-raid\n",
			after: func(t *testing.T) {
				wantStatus(t, "archives/local/", http.StatusNotFound)
				wantStatus(t, "archives/starling-raid/", http.StatusOK)
				_, body := request(t, client, "GET", s.url+"resources/st-unit-12/", nil, nil)
				if locs := fmt.Sprint(body["locations"]); locs != "[starling-raid tape-2019]" {
					t.Errorf("locations after renaming the archive: %s", locs)
				}
				refusedCreate(t, "archives/", map[string]any{"name": "local", "scheme": "neurobank", "root": "/srv/elsewhere"})
			},
		},
		{
			name: "RenameArchiveOldName", args: []string{"admin-rename", "--kind", "archive", "local", "x"},
			stderr: `nbreg: there is no archive named "local".`, code: 1,
		},
		{
			name: "RenameArchiveToRetiredName", args: []string{"admin-rename", "--kind", "archive", "cluster", "local"},
			stderr: `nbreg: the name "local" is taken: it belongs, or once belonged, to another archive.`, code: 1,
		},
		{
			name: "RenameDataType", args: []string{"admin-rename", "--kind", "datatype", "wav", "wave"},
			stdout: "renamed datatype wav to wave\n",
			after: func(t *testing.T) {
				wantStatus(t, "datatypes/wav/", http.StatusNotFound)
				wantStatus(t, "datatypes/wave/", http.StatusOK)
				if _, body := request(t, client, "GET", s.url+"resources/bird-song/", nil, nil); body["dtype"] != "wave" {
					t.Errorf("dtype of a resource after renaming its datatype: %v", body["dtype"])
				}
				refusedCreate(t, "datatypes/", map[string]any{"name": "wav"})
			},
		},
		{
			name: "RenameDataTypeToRetiredName", args: []string{"admin-rename", "--kind", "datatype", "spike_times", "wav"},
			stderr: `nbreg: the name "wav" is taken: it belongs, or once belonged, to another datatype.`, code: 1,
		},
		{
			name: "RenameDataTypeUnknown", args: []string{"admin-rename", "--kind", "datatype", "nothere", "x"},
			stderr: `nbreg: there is no datatype named "nothere".`, code: 1,
		},

		{
			name: "DataTypeShown", args: []string{"admin-datatype", "wave"},
			stdout: "name:         wave\ncontent_type: audio/wav\nextension:    wav\ndownloadable: true\n",
		},
		{
			name: "DataTypeChanged", args: []string{"admin-datatype", "wave", "--content-type", "audio/x-wav", "--extension", ".wave", "--downloadable=false"},
			stdout: "name:         wave\ncontent_type: audio/x-wav\nextension:    wave\ndownloadable: false\n",
			after: func(t *testing.T) {
				_, body := request(t, client, "GET", s.url+"datatypes/wave/", nil, nil)
				if got, want := fmt.Sprint(body), "map[content_type:audio/x-wav downloadable:false extension:wave name:wave]"; got != want {
					t.Errorf("datatype as served: %s, want %s", got, want)
				}
			},
		},
		{
			name: "DataTypeBareFalse", args: []string{"admin-datatype", "wave", "--downloadable", "false"},
			stderr: `nbreg: write --downloadable=false, with an = sign: a bare "false" is taken for a datatype name.`, code: 2,
		},
		{
			name: "DataTypeExtensionTooLong", args: []string{"admin-datatype", "wave", "--extension", "waveform1"},
			stderr: "nbreg: extension: Ensure this field has no more than 8 characters.", code: 1,
		},
		{
			name: "DataTypeUnknown", args: []string{"admin-datatype", "mp3", "--downloadable=true"},
			stderr: `nbreg: there is no datatype named "mp3".`, code: 1,
		},
		{
			name: "DataTypeOldName", args: []string{"admin-datatype", "wav"},
			stderr: `nbreg: there is no datatype named "wav".`, code: 1,
		},

		{
			name: "DeleteUnconfirmed", args: []string{"admin-delete", "zx8k2m4q"},
			stderr: "nbreg: standard input is not a terminal, so the deletion cannot be confirmed: add --yes to delete without asking.", code: 1,
			after: func(t *testing.T) { wantStatus(t, "resources/zx8k2m4q/", http.StatusOK) },
		},
		{
			name: "Delete", args: []string{"admin-delete", "--yes", "--as", "dmeliza", "zx8k2m4q"},
			stdout: "deleted resource zx8k2m4q; the name is retired\n",
			after: func(t *testing.T) {
				wantStatus(t, "resources/zx8k2m4q/", http.StatusNotFound)
				refusedCreate(t, "resources/", map[string]any{"name": "zx8k2m4q", "dtype": "wave"})
			},
		},
		{
			name: "DeleteAgain", args: []string{"admin-delete", "--yes", "zx8k2m4q"},
			stderr: `nbreg: there is no resource named "zx8k2m4q".`, code: 1,
		},
		{
			name: "DeleteUnknown", args: []string{"admin-delete", "--yes", "nothere"},
			stderr: `nbreg: there is no resource named "nothere".`, code: 1,
		},
		{
			name: "RenameToDeletedName", args: []string{"admin-rename", "bird-song", "zx8k2m4q"},
			stderr: `nbreg: the name "zx8k2m4q" is taken: it belongs, or once belonged, to another resource.`, code: 1,
		},
		{
			name: "RenameDeleted", args: []string{"admin-rename", "zx8k2m4q", "y"},
			stderr: `nbreg: there is no resource named "zx8k2m4q".`, code: 1,
		},

		{
			name: "HistoryOfOldName",
			before: func(t *testing.T) {
				code, body := request(t, client, "PATCH", s.url+"resources/st-unit-12/", map[string]any{"metadata": map[string]any{"session": 6}}, margot)
				if code != http.StatusOK {
					t.Fatalf("PATCH resources/st-unit-12/: %d %v", code, body)
				}
			},
			args: []string{"history", "heengei8"},
			stdout: "TIME                  USER     ACTION  FIELD             OLD         NEW\n" +
				"YYYY-MM-DD hh:mm:ssZ  margot   update  metadata.session  5           6\n" +
				"YYYY-MM-DD hh:mm:ssZ  dmeliza  rename  name              \"heengei8\"  \"st-unit-12\"\n",
			after: func(t *testing.T) {
				changes := getList(t, client, s.url+"resources/st-unit-12/history/")
				if len(changes) != 2 || changes[0]["user"] != "margot" || changes[1]["action"] != "rename" {
					t.Errorf("history served: %v", changes)
				}
			},
		},
		{
			name: "HistoryLimited", args: []string{"history", "--limit", "1", "st-unit-12"},
			stdout: "TIME                  USER    ACTION  FIELD             OLD  NEW\n" +
				"YYYY-MM-DD hh:mm:ssZ  margot  update  metadata.session  5    6\n",
		},
		{
			name: "HistoryOfDeleted", args: []string{"history", "--json", "zx8k2m4q"},
			stdout: `{"action":"delete","field":"","new":null,"old":{"sha1":"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12","dtype":"spike_times",` +
				`"metadata":{"experimenter":"casey","ratio":0.1,"unit":{"channel":12,"cluster":3,"quality":null}},"locations":["cold-storage","starling-raid"]},` +
				`"resource":"zx8k2m4q","time":"<time>","user":"dmeliza"}` + "\n",
			after: func(t *testing.T) {
				changes := getList(t, client, s.url+"resources/zx8k2m4q/history/")
				if len(changes) != 1 || changes[0]["action"] != "delete" || changes[0]["user"] != "dmeliza" {
					t.Errorf("history of the deleted resource served: %v", changes)
				}
			},
		},
		{
			name: "HistoryEmpty", args: []string{"history", "bird-song"},
			stdout: "no changes recorded for bird-song\n",
		},
		{
			name: "HistoryEmptyJSON", args: []string{"history", "--json", "bird-song"},
		},
		{
			name: "HistoryUnknown", args: []string{"history", "never"},
			stderr: `nbreg: there is no resource named "never", and none ever had that name.`, code: 1,
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.before != nil {
				step.before(t)
			}
			r := h.run(t, "", append([]string{"--db", db}, step.args...)...)
			if r.code != step.code {
				t.Errorf("nbreg %s: exit status %d, want %d; stderr:\n%s", strings.Join(step.args, " "), r.code, step.code, r.stderr)
			}
			if got := maskTimes(r.stdout); got != step.stdout {
				t.Errorf("nbreg %s: stdout\n%s\nwant\n%s", strings.Join(step.args, " "), got, step.stdout)
			}
			stderr := r.stderr
			if step.code == 2 {
				stderr, _, _ = strings.Cut(stderr, "\n")
			} else {
				stderr = strings.TrimSuffix(stderr, "\n")
			}
			if stderr != step.stderr {
				t.Errorf("nbreg %s: stderr\n%s\nwant\n%s", strings.Join(step.args, " "), stderr, step.stderr)
			}
			if step.after != nil {
				step.after(t)
			}
		})
	}
}

// getList answers a GET of a list, such as a history.
func getList(t *testing.T, client *http.Client, url string) []map[string]any {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &list) != nil {
		t.Fatalf("GET %s: %d %s, want 200 and a list", url, resp.StatusCode, b)
	}
	return list
}
