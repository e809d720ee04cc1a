package httpapi_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"nbreg/transfer"
)

// djangoServed is what the django-neurobank site of the fixtures served for
// each resource: nbreg must serve the imported records the same way.
var djangoServed = map[string]string{
	"heengei8": `{"name": "heengei8", "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "dtype": "spike_times", "filename": "heengei8.pprox",
		"metadata": {"experimenter": "dmeliza", "animal": "C194", "session": 5, "depth_um": 1450.5, "sorted": true},
		"locations": ["local", "tape-2019"], "created_by": "dmeliza", "created_on": "2024-12-18T00:41:14.439000Z"}`,
	"st1010_song_3": `{"name": "st1010_song_3", "sha1": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", "dtype": "wav", "filename": "st1010_song_3.wav",
		"metadata": {"species": "Sturnus vulgaris", "bird": "st1010", "tags": ["motif", "song"], "recording": {"rate": 44100, "channels": 1}, "note": "Ó Briain's bird — “clean”"},
		"locations": ["cluster", "local"], "created_by": "margot", "created_on": "2019-03-02T10:00:00.000000Z"}`,
	"P120_1_b7": `{"name": "P120_1_b7", "sha1": null, "dtype": "acoustic_waveform", "filename": "P120_1_b7", "metadata": null,
		"locations": ["tape-2019"], "created_by": "dmeliza", "created_on": "2017-07-12T10:18:33.500000Z"}`,
	"zx8k2m4q": `{"name": "zx8k2m4q", "sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "dtype": "spike_times", "filename": "zx8k2m4q.pprox",
		"metadata": {"experimenter": "casey", "unit": {"channel": 12, "cluster": 3, "quality": null}, "ratio": 0.1},
		"locations": ["cold-storage", "local"], "created_by": "casey", "created_on": "2024-12-18T00:41:14.440000Z"}`,
	"notes_2020-02": `{"name": "notes_2020-02", "sha1": null, "dtype": "vocalization-notes", "filename": "notes_2020-02.md", "metadata": {},
		"locations": [], "created_by": "former", "created_on": "2020-02-01T11:59:59.999000Z"}`,
	"bird-song": `{"name": "bird-song", "sha1": "de9f2c7fd25e1b3afad3e85a0bd17d9b100db4b3", "dtype": "wav", "filename": "bird-song.wav",
		"metadata": {"big": 12345678901234567890, "small": -1e-7},
		"locations": ["cluster", "local"], "created_by": "margot", "created_on": "2022-08-15T16:20:00.123000Z"}`,
}

func TestDjangoImportServedIdentically(t *testing.T) {
	for _, fixture := range []string{"dumpdata.json", "dumpdata-natural.json"} {
		t.Run(fixture, func(t *testing.T) {
			ts := MustOpenServer(t)
			f, err := os.Open("../testdata/django/" + fixture)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := transfer.Import(t.Context(), ts.Store, f, nil); err != nil {
				t.Fatalf("Import: %v", err)
			}

			for name, want := range djangoServed {
				checkJSON(t, ts.Get(t, "resources/"+name+"/"), http.StatusOK, want)
			}
			var list []string
			for _, name := range []string{"P120_1_b7", "bird-song", "heengei8", "notes_2020-02", "st1010_song_3", "zx8k2m4q"} {
				list = append(list, djangoServed[name])
			}
			checkJSON(t, ts.Get(t, "resources/"), http.StatusOK, "["+strings.Join(list, ",")+"]")
			// Big numbers come back digit for digit, not through a float.
			if body := ts.Get(t, "resources/bird-song/").Body.String(); !strings.Contains(body, `"big":12345678901234567890`) {
				t.Errorf("big number not kept exactly: %s", body)
			}
			checkJSON(t, ts.Get(t, "datatypes/"), http.StatusOK, `[
			  {"name": "acoustic_waveform", "content_type": "", "extension": "", "downloadable": false},
			  {"name": "spike_times", "content_type": "application/vnd.meliza-org.pprox+json; version=1.0", "extension": "pprox", "downloadable": false},
			  {"name": "vocalization-notes", "content_type": "text/markdown", "extension": ".md", "downloadable": false},
			  {"name": "wav", "content_type": "audio/wav", "extension": "wav", "downloadable": true}]`)
			checkJSON(t, ts.Get(t, "archives/"), http.StatusOK, `[
			  {"name": "cluster", "scheme": "https", "root": "data.example.org/archive/", "accessibility": "remote"},
			  {"name": "cold-storage", "scheme": "neurobank", "root": "/mnt/cold", "accessibility": "offline"},
			  {"name": "local", "scheme": "neurobank", "root": "/home/data/starlings", "accessibility": "local"},
			  {"name": "tape-2019", "scheme": "tape", "root": "LTO7/2019", "accessibility": "local"}]`)
			checkJSON(t, ts.Get(t, "resources/st1010_song_3/locations/"), http.StatusOK, `[
			  {"archive_name": "local", "scheme": "neurobank", "root": "/home/data/starlings", "resource_name": "st1010_song_3"},
			  {"archive_name": "cluster", "scheme": "https", "root": "data.example.org/archive/", "resource_name": "st1010_song_3", "key": "st1010/song_3.wav"},
			  {"archive_name": "registry", "scheme": "http", "root": "example.org`+ts.URL("download/")+`", "resource_name": "st1010_song_3"}]`)

			// Users sign in with their Django passwords, with the role their
			// Django permissions gave them.
			for _, tc := range []struct {
				username, password string
				status             int
				detail             string
			}{
				{"dmeliza", "tuning-fork-42", http.StatusCreated, ""},
				{"margot", "starling song", http.StatusCreated, ""},
				{"casey", "zebra-finch!", http.StatusCreated, ""},
				{"guest", "just-looking", http.StatusForbidden, "You do not have permission to perform this action."},
				{"former", "gone-fishing", http.StatusForbidden, "Invalid username/password."},
				{"margot", "starling-song", http.StatusForbidden, "Invalid username/password."},
			} {
				body := map[string]any{"dtype": "wav", "metadata": map[string]any{"by": tc.username}}
				w := ts.Do(t, req{method: http.MethodPost, path: "resources/", body: body,
					header: http.Header{"Authorization": {basicAuth(tc.username, tc.password)}}})
				if w.Code != tc.status {
					t.Errorf("%s signing in with %q: %d %s, want %d", tc.username, tc.password, w.Code, w.Body, tc.status)
				} else if tc.detail != "" {
					checkJSON(t, w, tc.status, `{"detail": "`+tc.detail+`"}`)
				}
			}
			// The Django REST framework token keeps working.
			ts.MustDo(t, req{method: http.MethodPost, path: "resources/", body: map[string]any{"dtype": "wav"},
				header: http.Header{"Authorization": {"Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}}}, http.StatusCreated)
			// Only the superuser may delete.
			ts.MustDo(t, req{method: http.MethodDelete, path: "resources/bird-song/",
				header: http.Header{"Authorization": {basicAuth("margot", "starling song")}}}, http.StatusForbidden)
			ts.MustDo(t, req{method: http.MethodDelete, path: "resources/bird-song/",
				header: http.Header{"Authorization": {basicAuth("dmeliza", "tuning-fork-42")}}}, http.StatusNoContent)
		})
	}
}
