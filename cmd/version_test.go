package cmd

import (
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	recorded := func(settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "nbreg", Version: "v0.0.0-20260102030405-0123456789ab"}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	checkout := recorded(
		"vcs", "git",
		"vcs.revision", "0123456789abcdef0123456789abcdef01234567",
		"vcs.time", "2026-01-02T03:04:05Z",
		"vcs.modified", "false",
	)
	modified := recorded(
		"vcs", "git",
		"vcs.revision", "0123456789abcdef0123456789abcdef01234567",
		"vcs.time", "2026-01-02T03:04:05Z",
		"vcs.modified", "true",
	)
	for _, tc := range []struct {
		name                  string
		info                  *debug.BuildInfo
		version, commit, date string // set at link time
		want                  build
	}{
		{
			name: "Checkout",
			info: checkout,
			want: build{version: "v0.0.0-20260102030405-0123456789ab", commit: "0123456789abcdef0123456789abcdef01234567", date: "2026-01-02T03:04:05Z"},
		},
		{
			name: "ModifiedCheckout",
			info: modified,
			want: build{version: "v0.0.0-20260102030405-0123456789ab", commit: "0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)", date: "2026-01-02T03:04:05Z"},
		},
		{
			name:    "ReleaseInCheckout",
			info:    checkout,
			version: "v1.2.0",
			want:    build{version: "v1.2.0", commit: "0123456789abcdef0123456789abcdef01234567", date: "2026-01-02T03:04:05Z"},
		},
		{
			name:    "CommitSetAtLinkTime",
			info:    modified,
			version: "v1.2.0", commit: "fedcba98",
			want: build{version: "v1.2.0", commit: "fedcba98", date: "unknown"},
		},
		{
			name:    "AllSetAtLinkTime",
			info:    checkout,
			version: "v1.2.0", commit: "fedcba98", date: "2026-02-03T04:05:06Z",
			want: build{version: "v1.2.0", commit: "fedcba98", date: "2026-02-03T04:05:06Z"},
		},
		{
			name: "NotRecorded",
			info: &debug.BuildInfo{Main: debug.Module{Path: "nbreg", Version: "(devel)"}},
			want: build{version: "devel", commit: unrecorded, date: "unknown"},
		},
		{
			name: "NoBuildInfo",
			want: build{version: "devel", commit: unrecorded, date: "unknown"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := describeBuild(tc.info, tc.version, tc.commit, tc.date)
			got.goVersion = ""
			if got != tc.want {
				t.Errorf("describeBuild() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
