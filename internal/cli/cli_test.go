package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/dynamodbqueue/dynamodbqueue"
	"github.com/dynamodbqueue/dynamodbqueue/internal/message"
)

func str(s string) *string { return &s }

func TestParseAttr(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string
		want events.SQSMessageAttribute
		err  string
	}{
		{in: "color=String:blue", name: "color", want: events.SQSMessageAttribute{DataType: "String", StringValue: str("blue")}},
		{in: "color=blue", name: "color", want: events.SQSMessageAttribute{DataType: "String", StringValue: str("blue")}},
		{in: "n=Number:42", name: "n", want: events.SQSMessageAttribute{DataType: "Number", StringValue: str("42")}},
		{in: "n=number:-1.5", name: "n", want: events.SQSMessageAttribute{DataType: "Number", StringValue: str("-1.5")}},
		{in: "url=String:http://x:80/", name: "url", want: events.SQSMessageAttribute{DataType: "String", StringValue: str("http://x:80/")}},
		{in: "doc=String.json:{\"a\":1}", name: "doc", want: events.SQSMessageAttribute{DataType: "String.json", StringValue: str(`{"a":1}`)}},
		{in: "b=Binary:aGk=", name: "b", want: events.SQSMessageAttribute{DataType: "Binary", BinaryValue: []byte("hi")}},
		{in: "e=String:", name: "e", want: events.SQSMessageAttribute{DataType: "String", StringValue: str("")}},
		{in: "x=a=b", name: "x", want: events.SQSMessageAttribute{DataType: "String", StringValue: str("a=b")}},
		{in: "time=12:30", err: `type "12" must be String, Number or Binary`},
		{in: "noequals", err: "want name=type:value"},
		{in: "=String:x", err: "want name=type:value"},
		{in: "b=Binary:!!", err: "must be base64"},
	} {
		name, got, err := ParseAttr(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseAttr(%q): error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || name != c.name || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseAttr(%q) = %q, %+v, %v; want %q, %+v", c.in, name, got, err, c.name, c.want)
		}
	}
	if _, err := ParseAttrs([]string{"a=1", "a=2"}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate attribute: %v", err)
	}
	if m, err := ParseAttrs(nil); m != nil || err != nil {
		t.Errorf("ParseAttrs(nil) = %v, %v", m, err)
	}
}

func TestParseJSONMessages(t *testing.T) {
	in := `{"body":"plain"}
{"body":{"b":[1, 2]},"group":"g1","dedupId":"d1","delaySeconds":5}

  {"messageId":"m","receiptHandle":"h","body":"again","md5OfBody":"x",
   "attributes":{"ApproximateReceiveCount":"3","MessageGroupId":"g2","SentTimestamp":"1"},
   "messageAttributes":{"k":{"dataType":"Number","stringValue":"7"}}}
{"body":42}
`
	got, err := ParseJSONMessages(strings.NewReader(in), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	want := []events.SQSMessage{
		{Body: "plain"},
		{Body: `{"b":[1,2]}`, Attributes: map[string]string{"MessageGroupId": "g1", "MessageDeduplicationId": "d1", "DelaySeconds": "5"}},
		{Body: "again", Attributes: map[string]string{"MessageGroupId": "g2"},
			MessageAttributes: map[string]events.SQSMessageAttribute{"k": {DataType: "Number", StringValue: str("7")}}},
		{Body: "42"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	arr, err := ParseJSONMessages(strings.NewReader(` [{"body":"a"},{"body":"b","group":"g"}]`), "f.json")
	if err != nil || len(arr) != 2 || arr[1].Attributes["MessageGroupId"] != "g" {
		t.Errorf("array: %+v, %v", arr, err)
	}
	empty, err := ParseJSONMessages(strings.NewReader("\n \n"), "stdin")
	if err != nil || len(empty) != 0 {
		t.Errorf("empty input: %v, %v", empty, err)
	}

	for _, c := range []struct{ in, err string }{
		{"{\"body\":\"a\"}\n{\"body\":\"b\"\n", "stdin: "},
		{"{\"body\":\"a\"}\n{\"body\": x}\n", "stdin: line 2: invalid JSON"},
		{"{\"body\":\"a\"}\n\n{\"group\":\"g\"}\n", `stdin: line 3: no "body"`},
		{"{\"body\":null}", `line 1: no "body"`},
		{`{"body":"a","attributes":{"x":1}}`, "line 1: json: cannot unmarshal"},
		{"plain text", "line 1: invalid JSON"},
		{`[{"body":"a"},{"nobody":1}]`, `stdin: message 2: no "body"`},
		{`[{"body":"a"},]`, "invalid JSON"},
	} {
		_, err := ParseJSONMessages(strings.NewReader(c.in), "stdin")
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseJSONMessages(%q): error %v, want %q", c.in, err, c.err)
		}
	}
}

func TestParseLines(t *testing.T) {
	got, err := ParseLines(strings.NewReader("a\r\n\nb c\n{\"body\":1}"), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	want := []events.SQSMessage{{Body: "a"}, {Body: "b c"}, {Body: `{"body":1}`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestParseLinesTooLarge: a line longer than the largest message is the library's size
// error, not bufio.Scanner's "token too long"; a line of exactly that size is read.
func TestParseLinesTooLarge(t *testing.T) {
	full := strings.Repeat("x", message.DefaultMaxSize)
	got, err := ParseLines(strings.NewReader("a\n"+full+"\r\n"), "f.txt")
	if err != nil || len(got) != 2 || got[1].Body != full {
		t.Errorf("a line of the largest size: %d messages, %v", len(got), err)
	}
	_, err = ParseLines(strings.NewReader("a\n"+strings.Repeat("x", 2<<20)+"\n"), "f.txt")
	if !errors.Is(err, dynamodbqueue.ErrMessageTooLarge) || !strings.Contains(err.Error(), "f.txt: line 2: message too large") {
		t.Errorf("a 2 MiB line: %v, want ErrMessageTooLarge naming f.txt line 2", err)
	}
	if ExitCode(&commandError{err: err}) != ExitUsage {
		t.Errorf("exit code of %v: %d, want %d", err, ExitCode(&commandError{err: err}), ExitUsage)
	}
}

// TestParseHandlesLongLines: a JSON line of the largest message, as any JSON writer may
// print it (here with every body byte escaped as \u003c, six bytes each), gives its handle.
func TestParseHandlesLongLines(t *testing.T) {
	body := strings.Repeat("<", message.DefaultMaxSize)
	line, err := json.Marshal(events.SQSMessage{ReceiptHandle: "h-big", Body: body}) // escapes HTML
	if err != nil {
		t.Fatal(err)
	}
	if len(line) < 6*len(body) {
		t.Fatalf("the line is %d bytes, want the escaped form (at least %d)", len(line), 6*len(body))
	}
	got, err := ParseHandles(strings.NewReader("h1\n" + string(line) + "\n" + string(line[:len(line)-1]) + ` ,"x":1}` + "\nh2\n"))
	if err != nil || !reflect.DeepEqual(got, []string{"h1", "h-big", "h-big", "h2"}) {
		t.Errorf("ParseHandles = %v, %v", got, err)
	}
	_, err = ParseHandles(strings.NewReader("h1\n" + strings.Repeat("x", maxJSONLine+1) + "\n"))
	if err == nil || !strings.Contains(err.Error(), "stdin: line 2: more than") {
		t.Errorf("an overlong line: %v", err)
	}
}

// TestPrintJSONKeepsHTML: output is not HTML-escaped, so a body of '<' is not six times as
// long as a JSON line.
func TestPrintJSONKeepsHTML(t *testing.T) {
	var out bytes.Buffer
	a := newApp(nil, &out, &out, func(string) string { return "" })
	if err := a.printJSON(events.SQSMessage{Body: "<a href='x'>&</a>"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"body":"<a href='x'>&</a>"`) || !strings.HasSuffix(out.String(), "}\n") {
		t.Errorf("printJSON: %s", out.String())
	}
}

func TestParseHandles(t *testing.T) {
	got, err := ParseHandles(strings.NewReader("h1\n  \n{\"receiptHandle\":\"h2\",\"body\":\"x\"}\n h3 \n"))
	if err != nil || !reflect.DeepEqual(got, []string{"h1", "h2", "h3"}) {
		t.Errorf("ParseHandles = %v, %v", got, err)
	}
	if _, err := ParseHandles(strings.NewReader("{\"body\":\"x\"}\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("line without receiptHandle: %v", err)
	}
	if _, err := ParseHandles(strings.NewReader("h\n{oops\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad JSON line: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	wrapped := func(err error) error { return &commandError{err: fmt.Errorf("op: %w", err)} }
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("unknown flag: --x"), ExitUsage}, // cobra's own
		{wrapped(errors.New("boom")), ExitError},
		{wrapped(dynamodbqueue.ErrTableNotFound), ExitNotFound},
		{wrapped(dynamodbqueue.ErrInvalidArgument), ExitUsage},
		{wrapped(dynamodbqueue.ErrInvalidName), ExitUsage},
		{wrapped(dynamodbqueue.ErrInvalidMessage), ExitUsage},
		{wrapped(dynamodbqueue.ErrMessageTooLarge), ExitUsage},
		{wrapped(dynamodbqueue.ErrInvalidReceiptHandle), ExitUsage},
		{wrapped(dynamodbqueue.ErrQueueNameNotSet), ExitUsage},
		{wrapped(context.Canceled), ExitInterrupted},
		{wrapped(&exitError{code: ExitPartial, err: errors.New("2 of 3 failed")}), ExitPartial},
		{wrapped(withHint(ExitNotFound, errors.New("not running"), "start it")), ExitNotFound},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestExecute runs commands in-process that need no DynamoDB.
func TestExecute(t *testing.T) {
	env := func(string) string { return "" }
	for _, c := range []struct {
		args        []string
		stdin       string
		code        int
		out, errOut string
	}{
		{args: []string{"--help"}, code: 0, out: "Usage:\n  ddbq [command]"},
		{args: []string{}, code: 0, out: "Available Commands:"},
		{args: []string{"--nope"}, code: 2, errOut: "ddbq: unknown flag: --nope\n  run 'ddbq --help' for usage\n"},
		{args: []string{"purge"}, code: 2, errOut: "ddbq: purge needs --yes"},
		{args: []string{"push", "--attr", "x=Float:1", "body"}, code: 2, errOut: `type "Float"`},
		{args: []string{"push"}, stdin: "{\"body\":", code: 2, errOut: "stdin: "},
		{args: []string{"delete"}, code: 2, errOut: "no receipt handles"},
		{args: []string{"iam-policy", "-q", "q", "-c", "c", "--table-arn", "arn:aws:dynamodb:us-east-1:1:table/t"}, code: 0, out: `"q|c|*"`},
		// Plain text on stdin: the error suggests --raw.
		{args: []string{"push"}, stdin: "hello\n", code: 2, errOut: "ddbq: stdin: line 1: invalid JSON: invalid character 'h' looking for beginning of value\n" +
			"  stdin is read as JSON lines such as {\"body\":\"hello\"}; for plain text, one body per line, add --raw\n"},
		// An extra argument is named as such, not as an unknown command.
		{args: []string{"receive", "extra-arg"}, code: 2, errOut: "ddbq: ddbq receive takes no arguments, got \"extra-arg\"\n  run 'ddbq receive --help' for usage\n"},
		{args: []string{"stats", "a", "b"}, code: 2, errOut: "ddbq: ddbq stats takes no arguments, got \"a b\"\n"},
		{args: []string{"table", "nope"}, code: 2, errOut: "unknown command \"nope\" for \"ddbq table\""},
		// --max 0 is rejected alike everywhere, before any request.
		{args: []string{"receive", "--max", "0"}, code: 2, errOut: "ddbq: --max 0, must be 1..1000\n"},
		{args: []string{"receive", "--max", "1001"}, code: 2, errOut: "ddbq: --max 1001, must be 1..1000\n"},
		{args: []string{"peek", "--max", "0"}, code: 2, errOut: "ddbq: --max 0, must be 1..1000\n"},
		{args: []string{"dlq", "list", "--max", "0"}, code: 2, errOut: "ddbq: --max 0, must be 1..1000\n"},
		// Version and shell completion.
		{args: []string{"--version"}, code: 0, out: "ddbq version "},
		{args: []string{"version"}, code: 0, out: "ddbq version "},
		{args: []string{"version", "--json"}, code: 0, out: `"version":"`},
		{args: []string{"completion", "bash"}, code: 0, out: "bash completion V2 for ddbq"},
		{args: []string{"completion", "zsh"}, code: 0, out: "#compdef ddbq"},
		{args: []string{"completion", "fish"}, code: 0, out: "fish completion for ddbq"},
		{args: []string{"completion", "powershell"}, code: 0, out: "powershell completion for ddbq"},
	} {
		var out, errOut bytes.Buffer
		code := ExecuteEnv(context.Background(), c.args, strings.NewReader(c.stdin), &out, &errOut, env)
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errOut) {
			t.Errorf("ddbq %v: code %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, out.String(), errOut.String(), c.code, c.out, c.errOut)
		}
	}
	// New gives the same tree, for embedding.
	if root := New(nil, &bytes.Buffer{}, &bytes.Buffer{}, nil); root.Name() != "ddbq" || len(root.Commands()) < 14 {
		t.Errorf("New: %s with %d commands", root.Name(), len(root.Commands()))
	}
}

// TestVersion: the version line comes from the build information, with "(devel)" and
// "unknown" for what the build did not record; --version and version print the same.
func TestVersion(t *testing.T) {
	v := versionOf(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0e5be50c"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}})
	if got, want := v.String(), "v1.2.3, commit 0e5be50c (2026-01-02T03:04:05Z), modified, go1.26.0"; got != want {
		t.Errorf("version %q, want %q", got, want)
	}
	if got, want := versionOf(&debug.BuildInfo{}).String(), "(devel), commit unknown"; got != want {
		t.Errorf("version without build information %q, want %q", got, want)
	}
	run := func(args ...string) string {
		var out bytes.Buffer
		if code := ExecuteEnv(context.Background(), args, nil, &out, &out, func(string) string { return "" }); code != ExitOK {
			t.Fatalf("ddbq %v: exit code %d: %s", args, code, out.String())
		}
		return out.String()
	}
	if a, b := run("--version"), run("version"); a != b || a != "ddbq version "+readVersion().String()+"\n" {
		t.Errorf("--version %q, version %q", a, b)
	}
}

func TestAbbreviate(t *testing.T) {
	for in, want := range map[string]string{
		"":                      `""`,
		"plain":                 "plain",
		"two\nlines\t\x01":      `two\nlines\t\x01`,
		"héllo wörld":           "héllo wörld",
		strings.Repeat("x", 70): strings.Repeat("x", 59) + "…",
	} {
		if got := abbreviate(in, 60); got != want {
			t.Errorf("abbreviate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDemoKinds(t *testing.T) {
	for _, tn := range newDemoTenants() {
		for _, n := range []int{1, 3, 6, 12, 30} {
			count := map[string]int{}
			for _, k := range tn.kinds(n) {
				count[k]++
			}
			wantPoison := min(tn.poison, n)
			wantFlaky := min(tn.flaky, n-wantPoison)
			if count["poison"] != wantPoison || count["flaky"] != wantFlaky || count["ok"] != n-wantPoison-wantFlaky {
				t.Errorf("%s with %d messages: %v, want %d poison, %d flaky", tn.name(), n, count, wantPoison, wantFlaky)
			}
		}
	}
}

// FuzzParseJSONMessages: any input gives messages or an error, never a panic, and every
// message has a body.
func FuzzParseJSONMessages(f *testing.F) {
	f.Add(`{"body":"a"}` + "\n" + `{"body":{"x":1},"group":"g"}`)
	f.Add(`[{"body":"a","attributes":{"MessageGroupId":"g"}}]`)
	f.Add(`{"body":1,"delaySeconds":3,"messageAttributes":{"k":{"dataType":"Binary","binaryValue":"aGk="}}}`)
	f.Fuzz(func(t *testing.T, in string) {
		msgs, err := ParseJSONMessages(strings.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, m := range msgs {
			if m.Body == "" && !strings.Contains(in, `""`) {
				t.Errorf("empty body from %q", in)
			}
		}
	})
}
