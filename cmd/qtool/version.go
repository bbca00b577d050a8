package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// version, when set at link time (make dist: -ldflags "-X main.version=..."
// from git describe), overrides the module version: builds that the go
// command does not stamp from git (-buildvcs=false, or a tree without
// .git) still say what they are.
var version string

func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if ok && bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if version != "" {
		v.Version = version
	}
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func newVersion(opt *options) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print qtool's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			rev := v.Revision
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if v.Modified {
				rev += "+modified"
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "qtool %s %s %s %s/%s\n", v.Version, rev, v.Go, v.OS, v.Arch)
			return err
		},
	}
}
