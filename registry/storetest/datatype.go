package storetest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"nbreg/registry"
)

func testDataTypes(t *testing.T, open func(t *testing.T) registry.Store) {
	t.Run("CreateAndFind", func(t *testing.T) {
		f := setup(t, open)
		d := registry.DataType{Name: "spike_times", ContentType: "application/json", Extension: ".pprox", Downloadable: true}
		if err := f.s.CreateDataType(f.ctx, &d); err != nil {
			t.Fatal(err)
		}
		want := registry.DataType{Name: "spike_times", ContentType: "application/json", Extension: "pprox", Downloadable: true}
		if diff := cmp.Diff(want, d); diff != "" {
			t.Errorf("created datatype mismatch (-want +got):\n%s", diff)
		}
		got, err := f.s.FindDataType(f.ctx, "spike_times")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("FindDataType mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("ListOrderedByName", func(t *testing.T) {
		f := setup(t, open)
		got, err := f.s.ListDataTypes(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("ListDataTypes of an empty store = %v, want none", got)
		}
		for _, name := range []string{"wav", "ab", "pprox"} {
			f.dataType(registry.DataType{Name: name})
		}
		got, err = f.s.ListDataTypes(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []registry.DataType{{Name: "ab"}, {Name: "pprox"}, {Name: "wav"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ListDataTypes mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("DuplicateName", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav", Extension: "wav"})
		err := f.s.CreateDataType(f.ctx, &registry.DataType{Name: "wav", Extension: "flac"})
		wantError(t, err, registry.ECONFLICT, map[string][]string{"name": {registry.MsgDataTypeExists}})
		got, err := f.s.FindDataType(f.ctx, "wav")
		if err != nil {
			t.Fatal(err)
		}
		if got.Extension != "wav" {
			t.Errorf("extension after refused duplicate = %q, want %q", got.Extension, "wav")
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		f := setup(t, open)
		err := f.s.CreateDataType(f.ctx, &registry.DataType{Name: "not a slug", Extension: "toolongext"})
		wantError(t, err, registry.EINVALID, map[string][]string{
			"name":      {registry.MsgSlug},
			"extension": {registry.MsgTooLong(registry.MaxExtension)},
		})
		err = f.s.CreateDataType(f.ctx, &registry.DataType{Name: ""})
		wantError(t, err, registry.EINVALID, map[string][]string{"name": {registry.MsgBlank}})
		if got, err := f.s.ListDataTypes(f.ctx); err != nil || len(got) != 0 {
			t.Errorf("ListDataTypes after invalid creates = %v, %v; want none", got, err)
		}
	})

	t.Run("FindUnknown", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.FindDataType(f.ctx, "nope")
		wantError(t, err, registry.ENOTFOUND, nil)
	})

	t.Run("Update", func(t *testing.T) {
		f := setup(t, open)
		f.dataType(registry.DataType{Name: "wav", ContentType: "audio/wav", Extension: "wav"})
		got, err := f.s.UpdateDataType(f.ctx, "wav", registry.DataTypeUpdate{Extension: ptr(".flac"), Downloadable: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		want := registry.DataType{Name: "wav", ContentType: "audio/wav", Extension: "flac", Downloadable: true}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("UpdateDataType mismatch (-want +got):\n%s", diff)
		}
		found, err := f.s.FindDataType(f.ctx, "wav")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *found); diff != "" {
			t.Errorf("FindDataType after update mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateInvalidChangesNothing", func(t *testing.T) {
		f := setup(t, open)
		want := f.dataType(registry.DataType{Name: "wav", Extension: "wav"})
		_, err := f.s.UpdateDataType(f.ctx, "wav", registry.DataTypeUpdate{
			ContentType:  ptr(strings.Repeat("x", registry.MaxContentType+1)),
			Downloadable: ptr(true),
		})
		wantError(t, err, registry.EINVALID, map[string][]string{"content_type": {registry.MsgTooLong(registry.MaxContentType)}})
		got, err := f.s.FindDataType(f.ctx, "wav")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, *got); diff != "" {
			t.Errorf("datatype changed by a refused update (-want +got):\n%s", diff)
		}
	})

	t.Run("UpdateUnknown", func(t *testing.T) {
		f := setup(t, open)
		_, err := f.s.UpdateDataType(f.ctx, "nope", registry.DataTypeUpdate{Downloadable: ptr(true)})
		wantError(t, err, registry.ENOTFOUND, nil)
	})
}
