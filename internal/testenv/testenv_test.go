package testenv

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestMain(m *testing.M) { Main(m) }

var tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func TestTableName(t *testing.T) {
	a, b := TableName(t), TableName(t)
	if a == b {
		t.Fatalf("TableName repeated %q", a)
	}
	if !strings.HasPrefix(a, "t-TestTableName-") || !tableNameRE.MatchString(a) {
		t.Fatalf("bad name %q", a)
	}
	t.Run("a long sub test/with odd chars: é ü #1", func(t *testing.T) {
		n := TableName(t)
		m := regexp.MustCompile(`^t-([a-zA-Z0-9_.-]+)-[0-9a-f]{8}$`).FindStringSubmatch(n)
		if m == nil || !tableNameRE.MatchString(n) || len(m[1]) != 40 {
			t.Fatalf("bad name %q: want 40 sanitised chars and 8 hex digits", n)
		}
	})
}

func TestEndpointIsStable(t *testing.T) {
	if a, b := Endpoint(t), Endpoint(t); a != b || a == "" {
		t.Fatalf("Endpoint = %q then %q", a, b)
	}
}

// TestClientRoundTrip creates a table, waits for it and writes and reads
// an item, as the queue packages' tests will.
func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := Client(t)
	table := TableName(t)
	createHashTable(ctx, t, c, table)
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}
	item := map[string]types.AttributeValue{"pk": key["pk"], "v": &types.AttributeValueMemberN{Value: "42"}}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := out.Item["v"].(*types.AttributeValueMemberN); !ok || v.Value != "42" {
		t.Fatalf("GetItem = %#v", out.Item)
	}
	if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		t.Fatal(err)
	}
}

func TestAWSConfigEndpoint(t *testing.T) {
	cfg := AWSConfig(t)
	if cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != Endpoint(t) || cfg.Region != "us-east-1" {
		t.Fatalf("AWSConfig = endpoint %v region %q", cfg.BaseEndpoint, cfg.Region)
	}
}

// TestEndpointFailsLoudly runs this test binary outside the repository,
// where no dynalite can be found, and checks that Endpoint fails (never
// skips) with instructions.
func TestEndpointFailsLoudly(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Endpoint(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEndpointFailsLoudly$", "-test.v")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", EnvEndpoint+"=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), "make dynalite") {
		t.Fatalf("child: err=%v\n%s", err, out)
	}
}

// FuzzTableName checks that any test name yields a valid DynamoDB table
// name.
func FuzzTableName(f *testing.F) {
	for _, s := range []string{"", "TestX", "TestX/sub_case#01", "é/ü\x00\xff" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if n := tableName(name); !tableNameRE.MatchString(n) || len(n) > 2+40+1+8 {
			t.Fatalf("tableName(%q) = %q", name, n)
		}
	})
}

// TestServerDifferenceTTLAPI names a difference between the two servers: DynamoDB Local (like
// AWS) turns on time to live with UpdateTimeToLive, dynalite answers it with
// UnknownOperationException. It also proves that SupportsTTL tells the truth about the endpoint.
func TestServerDifferenceTTLAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, table := Client(t), TableName(t)
	createHashTable(ctx, t, client, table)
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)},
	})
	if (err == nil) != SupportsTTL(t) {
		t.Fatalf("%s: UpdateTimeToLive = %v; SupportsTTL() = %v", Server(t), err, SupportsTTL(t))
	}
	if err != nil && !strings.Contains(err.Error(), "UnknownOperationException") {
		t.Fatalf("%s: UpdateTimeToLive = %v, want UnknownOperationException", Server(t), err)
	}
}

// createHashTable creates an on-demand table keyed by "pk" and waits until it is ACTIVE.
func createHashTable(ctx context.Context, t *testing.T, c *dynamodb.Client, table string) {
	t.Helper()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The SDK waiter's default 20 s minimum delay would make this slow on a local server.
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestServerDifferenceCRC32OnErrors names a difference between the two servers: dynalite (like
// AWS) puts an X-Amz-Crc32 header on error responses, DynamoDB Local 1.25.1 leaves it out. The
// Go SDK then logs "failed to close HTTP response body ... did not match expected checksum" for
// each error response from DynamoDB Local when the client has a logger; the warning is harmless.
func TestServerDifferenceCRC32OnErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, Endpoint(t), strings.NewReader(`{"TableName":"missing-table"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.DescribeTable")
	req.Header.Set("X-Amz-Date", "20200101T000000Z")
	// Neither server checks the signature, only the header's shape.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ResourceNotFoundException") {
		t.Fatalf("DescribeTable of a missing table: %s %s", resp.Status, body)
	}
	hasCRC := resp.Header.Get("X-Amz-Crc32") != ""
	if want := Server(t) == ServerDynalite; hasCRC != want {
		t.Fatalf("%s: error response has X-Amz-Crc32 = %v, want %v", Server(t), hasCRC, want)
	}
}
