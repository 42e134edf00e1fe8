package sqsserver_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dynamodbqueue/dynamodbqueue/internal/sqstest"
	"github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/scenario"
)

// TestSDKJavaScript runs compat/js/scenario.cjs (send, receive, visibility, batches, dead
// letters, FIFO, refusals) with @aws-sdk/client-sqs at the current version (JSON protocol) and
// at 3.445.0 (query protocol), as installed by `make servers`. Missing node or packages fail.
func TestSDKJavaScript(t *testing.T) {
	for _, c := range []struct{ version, contentType string }{
		{"3.1169.0", scenario.JSON},
		{"3.445.0", scenario.Query},
	} {
		t.Run(c.version, func(t *testing.T) {
			env := sqstest.Start(t)
			out := env.RunNode(t, c.version, filepath.Join("compat", "js", "scenario.cjs"))
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var res struct {
				Version      string   `json:"version"`
				ContentTypes []string `json:"contentTypes"`
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
				t.Fatalf("the script's last line is not its summary: %v\n%s", err, out)
			}
			if res.Version != c.version || len(res.ContentTypes) != 1 || res.ContentTypes[0] != c.contentType {
				t.Fatalf("ran @aws-sdk/client-sqs %s speaking %v, want %s speaking only %s", res.Version, res.ContentTypes, c.version, c.contentType)
			}
		})
	}
}
