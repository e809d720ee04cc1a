package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"nbreg/registry"
)

func newAdminDataTypeCommand() *cobra.Command {
	var d registry.DataType
	c := &cobra.Command{
		Use:   "admin-datatype NAME",
		Short: "Change a datatype",
		Long: `Change the content type, file extension or downloadability of the datatype
called NAME, and print the datatype as it then is. The API lets users create
datatypes but not change them, so that resources already registered keep
their meaning; an administrator changes them here.

Only the flags given change anything; with none, the datatype is printed
unchanged. A server running on the same database sees the change at once.`,
		Example: `  # set the content type
  nbreg admin-datatype spike_times --content-type 'application/vnd.meliza-org.pprox+json; version=1.0'

  # set the extension (a leading dot is dropped) and let the registry serve the files
  nbreg admin-datatype wav --extension wav --downloadable=true

  # stop serving the files of a datatype
  nbreg admin-datatype wav --downloadable=false

  # clear the extension
  nbreg admin-datatype wav --extension ''

  # show a datatype
  nbreg admin-datatype wav`,
		Args: func(c *cobra.Command, args []string) error {
			// "--downloadable false" leaves "false" behind as an argument:
			// a bool flag takes its value only after "=".
			for _, a := range args {
				if len(args) > 1 && (a == "true" || a == "false") {
					return &usageError{err: fmt.Errorf("write --downloadable=%s, with an = sign: a bare %q is taken for a datatype name", a, a)}
				}
			}
			return exactArgs("the datatype name")(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			var upd registry.DataTypeUpdate
			f := c.Flags()
			if f.Changed("content-type") {
				upd.ContentType = &d.ContentType
			}
			if f.Changed("extension") {
				d.Normalize()
				upd.Extension = &d.Extension
			}
			if f.Changed("downloadable") {
				upd.Downloadable = &d.Downloadable
			}
			return changeDataType(c, args[0], upd)
		},
	}
	f := c.Flags()
	f.StringVar(&d.ContentType, "content-type", "", fmt.Sprintf("MIME type or link to a specification, at most %d characters; '' clears it (e.g. --content-type audio/wav)", registry.MaxContentType))
	f.StringVar(&d.Extension, "extension", "", fmt.Sprintf("file extension without the dot, at most %d characters; '' clears it (e.g. --extension wav)", registry.MaxExtension))
	f.BoolVar(&d.Downloadable, "downloadable", false, "whether the registry serves the files of this datatype; give the value after = (e.g. --downloadable=true)")
	return c
}

func changeDataType(c *cobra.Command, name string, upd registry.DataTypeUpdate) error {
	store, _, err := openStore(c, true)
	if err != nil {
		return err
	}
	defer store.Close()
	var d *registry.DataType
	if upd == (registry.DataTypeUpdate{}) {
		d, err = store.FindDataType(c.Context(), name)
	} else {
		d, err = store.UpdateDataType(c.Context(), name, upd)
	}
	if registry.ErrorCode(err) == registry.ENOTFOUND {
		return fmt.Errorf("there is no datatype named %q", name)
	} else if err != nil {
		return err
	}
	out := c.OutOrStdout()
	fmt.Fprintf(out, "name:         %s\n", d.Name)
	fmt.Fprintf(out, "content_type: %s\n", d.ContentType)
	fmt.Fprintf(out, "extension:    %s\n", d.Extension)
	fmt.Fprintf(out, "downloadable: %t\n", d.Downloadable)
	return nil
}
