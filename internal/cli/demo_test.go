package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dynamodbqueue/dynamodbqueue/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestDemoInProcess runs the demo inside the test binary, so that go test -race checks its
// producers, consumers and progress loop (the end-to-end tests run a binary without -race).
func TestDemoInProcess(t *testing.T) {
	ep := testenv.Endpoint(t)
	env := func(name string) string {
		if name == EnvEndpoint2 {
			return ep
		}
		return ""
	}
	var out, errOut bytes.Buffer
	code := ExecuteEnv(context.Background(), []string{"demo", "--messages", "8", "--json"}, nil, &out, &errOut, env)
	if code != ExitOK {
		t.Fatalf("demo: exit code %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var sum struct {
		OK    bool `json:"ok"`
		Total struct {
			Pushed, Delivered, DeadLettered int
		} `json:"total"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !sum.OK || sum.Total.Pushed != 40 || sum.Total.Delivered+sum.Total.DeadLettered != 40 || sum.Total.DeadLettered == 0 {
		t.Errorf("demo summary: %s", strings.TrimSpace(out.String()))
	}
}
