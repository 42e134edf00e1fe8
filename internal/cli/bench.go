package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

func (a *app) benchCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency against a DynamoDB endpoint",
		Args:  cobra.NoArgs,
		RunE: a.run(func(*cobra.Command, []string) error {
			return errors.New("bench is not available in this build yet")
		}),
	}
}
