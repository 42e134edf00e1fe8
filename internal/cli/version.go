package cli

import (
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildVersion is what the binary knows about its own build.
type buildVersion struct {
	Version  string `json:"version"`  // module version, "(devel)" when unknown
	Commit   string `json:"commit"`   // VCS revision, "" when unknown
	Time     string `json:"time"`     // commit time, "" when unknown
	Modified bool   `json:"modified"` // built from a tree with uncommitted changes
	Go       string `json:"go"`       // Go version of the build
}

// readVersion returns the version from runtime/debug.ReadBuildInfo.
func readVersion() buildVersion {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return buildVersion{Version: "(devel)"}
	}
	return versionOf(info)
}

// versionOf extracts the module version and the VCS settings that `go build` records.
func versionOf(info *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: info.Main.Version, Go: info.GoVersion}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one line `ddbq version` and `ddbq --version` print after "ddbq version ".
func (v buildVersion) String() string {
	s := v.Version
	commit := v.Commit
	if commit == "" {
		commit = "unknown"
	}
	s += ", commit " + commit
	if v.Time != "" {
		s += " (" + v.Time + ")"
	}
	if v.Modified {
		s += ", modified"
	}
	if v.Go != "" {
		s += ", " + v.Go
	}
	return s
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit ddbq was built from",
		Long: `Print the module version and the VCS commit ddbq was built from, as recorded by
the Go toolchain; "(devel)" and "unknown" when the build did not record them. The same
as --version; --json prints it as an object.`,
		Args: noArgs,
		RunE: a.run(func(*cobra.Command, []string) error {
			v := readVersion()
			if a.g.json {
				return a.printJSON(v)
			}
			a.printf("ddbq version %s\n", v)
			return nil
		}),
	}
}
