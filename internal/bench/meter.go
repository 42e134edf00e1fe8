package bench

import (
	"context"
	"errors"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/dynamodbqueue/dynamodbqueue/internal/keys"
)

// OpStats is what a Meter counted for one DynamoDB operation (GetItem, Query, ...).
//
// Capacity comes in three kinds, because a local endpoint does not report everything AWS bills:
//
//   - RCU is the read units the endpoint returned (table and index reads together), WCU the
//     table's write units (ConsumedCapacity.Table; ReturnConsumedCapacity=INDEXES is set on
//     every request).
//   - IndexWCU is the write units of the table's secondary indexes: what the endpoint reported
//     (ConsumedCapacity.LocalSecondaryIndexes and GlobalSecondaryIndexes: AWS and DynamoDB Local
//     report them) or, where it reported none (dynalite), what the Meter computed from its
//     IndexModel. EstIndexWCU is the computed part of IndexWCU: 0 when every figure was reported.
//   - EstWCU and EstRCU are computed charges that come back without a ConsumedCapacity: a write
//     whose condition failed is billed (1 WCU for items up to 1 KB) but returns an error, and
//     dynalite reports 0 RCU for a read that found nothing where AWS charges at least 0.5 RCU
//     (eventually consistent) or 1 RCU (strongly consistent).
type OpStats struct {
	Op              string  `json:"op"`
	Requests        int64   `json:"requests"`         // API calls (Initialize step)
	Attempts        int64   `json:"attempts"`         // HTTP attempts including SDK retries (Finalize step)
	ConditionFailed int64   `json:"condition_failed"` // ConditionalCheckFailedException
	Errors          int64   `json:"errors"`           // other errors
	Items           int64   `json:"items"`            // items written or returned (batch writes, queries)
	RCU             float64 `json:"rcu"`
	WCU             float64 `json:"wcu"`
	IndexWCU        float64 `json:"index_wcu"`
	EstIndexWCU     float64 `json:"est_index_wcu"` // the part of IndexWCU the Meter computed
	EstRCU          float64 `json:"est_rcu"`
	EstWCU          float64 `json:"est_wcu"`
	// ReadBytes is the size of the items the responses carried (ItemSize): query and get
	// results, the old items writes returned, and the items failed conditions returned.
	ReadBytes int64 `json:"read_bytes"`
}

// IndexEstimated reports whether some of IndexWCU was computed by the Meter rather than
// reported by the endpoint.
func (s OpStats) IndexEstimated() bool { return s.EstIndexWCU > 0 }

// TotalRCU is the read units AWS would bill: reported plus estimated.
func (s OpStats) TotalRCU() float64 { return s.RCU + s.EstRCU }

// TotalWCU is the write units AWS would bill: table units, index units (reported or computed)
// and estimated unreported units.
func (s OpStats) TotalWCU() float64 { return s.WCU + s.IndexWCU + s.EstWCU }

func (s *OpStats) add(o OpStats) {
	s.Requests += o.Requests
	s.Attempts += o.Attempts
	s.ConditionFailed += o.ConditionFailed
	s.Errors += o.Errors
	s.Items += o.Items
	s.RCU += o.RCU
	s.WCU += o.WCU
	s.IndexWCU += o.IndexWCU
	s.EstIndexWCU += o.EstIndexWCU
	s.EstRCU += o.EstRCU
	s.EstWCU += o.EstWCU
	s.ReadBytes += o.ReadBytes
}

func (s *OpStats) sub(o OpStats) {
	s.Requests -= o.Requests
	s.Attempts -= o.Attempts
	s.ConditionFailed -= o.ConditionFailed
	s.Errors -= o.Errors
	s.Items -= o.Items
	s.RCU -= o.RCU
	s.WCU -= o.WCU
	s.IndexWCU -= o.IndexWCU
	s.EstIndexWCU -= o.EstIndexWCU
	s.EstRCU -= o.EstRCU
	s.EstWCU -= o.EstWCU
	s.ReadBytes -= o.ReadBytes
}

// Usage is a set of OpStats keyed by operation name.
type Usage map[string]OpStats

// Sub returns u minus an earlier snapshot.
func (u Usage) Sub(earlier Usage) Usage {
	out := make(Usage, len(u))
	for op, s := range u {
		s.sub(earlier[op])
		if s != (OpStats{Op: op}) {
			out[op] = s
		}
	}
	return out
}

// Add returns the sum of u and o.
func (u Usage) Add(o Usage) Usage {
	out := make(Usage, len(u)+len(o))
	for op, s := range u {
		out[op] = s
	}
	for op, s := range o {
		t := out[op]
		t.Op = op
		t.add(s)
		out[op] = t
	}
	return out
}

// Total sums every operation.
func (u Usage) Total() OpStats {
	var t OpStats
	t.Op = "total"
	for _, s := range u {
		t.add(s)
	}
	return t
}

// Sorted returns the operations in name order.
func (u Usage) Sorted() []OpStats {
	out := make([]OpStats, 0, len(u))
	for _, s := range u {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

// IndexModel describes a local secondary index with ProjectionType ALL, so the Meter can compute
// the index write units that AWS bills on top of the table's where the endpoint does not report
// them (dynalite).
// AWS's rules, per write, in units of the index entry's size rounded up to 1 KB: an item that
// enters the index costs 1 write, one that leaves it 1, one that stays and changes its index key
// 2 (delete + put), one that stays with the same key but other changed (projected) attributes 1,
// and an item outside the index before and after costs nothing.
type IndexModel struct {
	// Attr is the index's sort key attribute ("vis" for the queue table).
	Attr string
	// Indexed reports whether an item with this sort key carries Attr (is in the index). The
	// Meter uses it where it cannot see the item (deletes by key, updates).
	Indexed func(sk string) bool
}

// QueueIndex is the model of the queue table's "vis" index: messages outside groups (m#) and
// group lock items (G#) are in it.
var QueueIndex = &IndexModel{
	Attr:    "vis",
	Indexed: func(sk string) bool { return strings.HasPrefix(sk, "m#") || strings.HasPrefix(sk, "G#") },
}

// Meter counts DynamoDB requests and consumed capacity per operation. Register it on a client
// with AddTo (through dynamodb.Options.APIOptions); it is safe for concurrent use.
//
// Index write units come from the endpoint where it reports them. A server that does (AWS,
// DynamoDB Local) leaves them out of a write that touches no index, and one that does not
// (dynalite) leaves them out of every write, so an absent figure is ambiguous. The Meter
// computes it from Index until the first write response that carries index capacity, and from
// then on takes an absent figure as zero.
type Meter struct {
	// Index, if set, models the table's local secondary index for the computed IndexWCU.
	Index *IndexModel

	// reportsIndexes is set by the first write response that carries index capacity.
	reportsIndexes atomic.Bool

	mu  sync.Mutex
	ops map[string]*OpStats
}

// NewMeter returns a Meter; index may be nil (no secondary index).
func NewMeter(index *IndexModel) *Meter {
	return &Meter{Index: index, ops: map[string]*OpStats{}}
}

// Options returns a dynamodb option that installs the meter on a client:
// dynamodb.NewFromConfig(cfg, meter.Options).
func (m *Meter) Options(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, m.AddTo)
}

// AddTo adds the meter's middleware to an operation's stack: at the Initialize step (one call
// per API call: asks for ReturnConsumedCapacity=INDEXES, then reads the outcome) and at the
// Finalize step after the retry middleware (one call per HTTP attempt).
func (m *Meter) AddTo(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.Meter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetOperationName(ctx)
			if isHintRequest(in.Parameters) {
				op += OpHintSuffix
				ctx = context.WithValue(ctx, hintRequestKey{}, true) // for the attempts below
			}
			in.Parameters = withIndexCapacity(in.Parameters)
			out, md, err := next.HandleInitialize(ctx, in)
			m.record(op, in.Parameters, out.Result, err)
			return out, md, err
		}), middleware.After); err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("bench.MeterAttempts",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			op := awsmiddleware.GetOperationName(ctx)
			if ctx.Value(hintRequestKey{}) != nil {
				op += OpHintSuffix
			}
			m.bump(op, func(s *OpStats) { s.Attempts++ })
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// Snapshot returns the counts so far.
func (m *Meter) Snapshot() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := make(Usage, len(m.ops))
	for op, s := range m.ops {
		u[op] = *s
	}
	return u
}

func (m *Meter) bump(op string, fn func(*OpStats)) {
	if op == "" {
		op = "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.ops[op]
	if !ok {
		s = &OpStats{Op: op}
		m.ops[op] = s
	}
	fn(s)
}

// withIndexCapacity returns a copy of an operation's input that asks for ConsumedCapacity per
// table and index (INDEXES, which also carries TOTAL's figure), or params itself for operations
// without the field. A copy, so the caller's input is neither changed nor raced on when it is
// shared between goroutines.
func withIndexCapacity(params any) any {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return params
	}
	f := v.Elem().FieldByName("ReturnConsumedCapacity")
	if !f.IsValid() || f.Type() != reflect.TypeFor[types.ReturnConsumedCapacity]() ||
		f.Interface() == types.ReturnConsumedCapacityIndexes {
		return params
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	cp.Elem().FieldByName("ReturnConsumedCapacity").Set(reflect.ValueOf(types.ReturnConsumedCapacityIndexes))
	return cp.Interface()
}

// units is the read or write units of a ConsumedCapacity: table and indexes together.
func units(cc *types.ConsumedCapacity, write bool) float64 {
	if cc == nil {
		return 0
	}
	return capacityUnits(cc.CapacityUnits, cc.ReadCapacityUnits, cc.WriteCapacityUnits, write)
}

func capacityUnits(total, read, written *float64, write bool) float64 {
	switch {
	case write && written != nil:
		return *written
	case !write && read != nil:
		return *read
	case total != nil:
		return *total
	}
	return 0
}

func sumUnits(ccs []types.ConsumedCapacity, write bool) float64 {
	var t float64
	for i := range ccs {
		t += units(&ccs[i], write)
	}
	return t
}

// splitWrite divides a write's ConsumedCapacity into table and index units; reported says
// whether it named any index.
func splitWrite(cc *types.ConsumedCapacity) (table, index float64, reported bool) {
	for _, idx := range []map[string]types.Capacity{cc.LocalSecondaryIndexes, cc.GlobalSecondaryIndexes} {
		for _, c := range idx {
			index += capacityUnits(c.CapacityUnits, c.ReadCapacityUnits, c.WriteCapacityUnits, true)
			reported = true
		}
	}
	if t := cc.Table; t != nil {
		return capacityUnits(t.CapacityUnits, t.ReadCapacityUnits, t.WriteCapacityUnits, true), index, reported
	}
	return units(cc, true) - index, index, reported // no breakdown: the total includes the indexes
}

// setWriteUnits fills d.WCU and d.IndexWCU from a write response's capacities. estimate, given
// the table units, computes the index units from the model; it is used only while the endpoint
// has not shown that it reports index capacity (see Meter).
func (m *Meter) setWriteUnits(d *OpStats, ccs []types.ConsumedCapacity, estimate func(tableUnits float64) float64) {
	reported := false
	for i := range ccs {
		t, x, ok := splitWrite(&ccs[i])
		d.WCU += t
		d.IndexWCU += x
		reported = reported || ok
	}
	switch {
	case reported:
		m.reportsIndexes.Store(true)
	case m.Index != nil && !m.reportsIndexes.Load():
		d.EstIndexWCU = estimate(d.WCU)
		d.IndexWCU = d.EstIndexWCU
	}
}

// one wraps a single-item response's ConsumedCapacity for setWriteUnits.
func one(cc *types.ConsumedCapacity) []types.ConsumedCapacity {
	if cc == nil {
		return nil
	}
	return []types.ConsumedCapacity{*cc}
}

// readMinimum is what AWS charges at least for one read request.
func readMinimum(consistent *bool) float64 {
	if consistent != nil && *consistent {
		return 1
	}
	return 0.5
}

// record adds the outcome of one API call.
func (m *Meter) record(op string, params, result any, err error) {
	var d OpStats
	d.Requests = 1
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalCheckFailedException" {
			d.ConditionFailed = 1
			d.EstWCU = 1 // billed, not reported: the size of the existing item, 1 WCU up to 1 KB
			var ccf *types.ConditionalCheckFailedException
			if errors.As(err, &ccf) {
				d.ReadBytes = int64(ItemSize(ccf.Item))
			}
		} else {
			d.Errors = 1
		}
		m.bump(op, func(s *OpStats) { s.add(d) })
		return
	}
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		d.RCU = units(out.ConsumedCapacity, false)
		if out.Item != nil {
			d.Items = 1
		}
		if in, ok := params.(*dynamodb.GetItemInput); ok && d.RCU == 0 {
			d.EstRCU = readMinimum(in.ConsistentRead)
		}
	case *dynamodb.QueryOutput:
		d.RCU = units(out.ConsumedCapacity, false)
		d.Items = int64(len(out.Items))
		if in, ok := params.(*dynamodb.QueryInput); ok && d.RCU == 0 {
			d.EstRCU = readMinimum(in.ConsistentRead)
		}
	case *dynamodb.ScanOutput:
		d.RCU = units(out.ConsumedCapacity, false)
		d.Items = int64(len(out.Items))
		if in, ok := params.(*dynamodb.ScanInput); ok && d.RCU == 0 {
			d.EstRCU = readMinimum(in.ConsistentRead)
		}
	case *dynamodb.BatchGetItemOutput:
		d.RCU = sumUnits(out.ConsumedCapacity, false)
		for _, items := range out.Responses {
			d.Items += int64(len(items))
		}
	case *dynamodb.PutItemOutput:
		d.Items = 1
		if in, ok := params.(*dynamodb.PutItemInput); ok {
			m.setWriteUnits(&d, one(out.ConsumedCapacity), func(float64) float64 { return m.putIndexUnits(in.Item) })
		}
	case *dynamodb.UpdateItemOutput:
		d.Items = 1
		if in, ok := params.(*dynamodb.UpdateItemInput); ok {
			m.setWriteUnits(&d, one(out.ConsumedCapacity), func(table float64) float64 { return m.updateIndexUnits(in, table) })
		}
	case *dynamodb.DeleteItemOutput:
		d.Items = 1
		if in, ok := params.(*dynamodb.DeleteItemInput); ok {
			m.setWriteUnits(&d, one(out.ConsumedCapacity), func(table float64) float64 { return m.deleteIndexUnits(in, out, table) })
		}
	case *dynamodb.BatchWriteItemOutput:
		in, ok := params.(*dynamodb.BatchWriteItemInput)
		if !ok {
			break
		}
		var est float64
		for table, reqs := range in.RequestItems {
			left := len(out.UnprocessedItems[table])
			d.Items += int64(len(reqs) - left)
			// Unprocessed requests are retried by the caller and counted then; DynamoDB
			// returns the unprocessed ones at the end, so count the processed prefix.
			for _, r := range reqs[:len(reqs)-left] {
				est += m.batchIndexUnits(r)
			}
		}
		m.setWriteUnits(&d, out.ConsumedCapacity, func(float64) float64 { return est })
	}
	d.ReadBytes = readBytes(result)
	m.bump(op, func(s *OpStats) { s.add(d) })
}

// readBytes is the size of the items a successful response carries.
func readBytes(result any) int64 {
	n := 0
	switch out := result.(type) {
	case *dynamodb.GetItemOutput:
		n = ItemSize(out.Item)
	case *dynamodb.QueryOutput:
		for _, it := range out.Items {
			n += ItemSize(it)
		}
	case *dynamodb.ScanOutput:
		for _, it := range out.Items {
			n += ItemSize(it)
		}
	case *dynamodb.BatchGetItemOutput:
		for _, items := range out.Responses {
			for _, it := range items {
				n += ItemSize(it)
			}
		}
	case *dynamodb.PutItemOutput:
		n = ItemSize(out.Attributes)
	case *dynamodb.UpdateItemOutput:
		n = ItemSize(out.Attributes)
	case *dynamodb.DeleteItemOutput:
		n = ItemSize(out.Attributes)
	}
	return int64(n)
}

func (m *Meter) putIndexUnits(item map[string]types.AttributeValue) float64 {
	if m.Index == nil {
		return 0
	}
	if _, ok := item[m.Index.Attr]; !ok {
		return 0
	}
	return writeUnits(ItemSize(item))
}

func (m *Meter) batchIndexUnits(r types.WriteRequest) float64 {
	if m.Index == nil {
		return 0
	}
	if r.PutRequest != nil {
		return m.putIndexUnits(r.PutRequest.Item)
	}
	if r.DeleteRequest != nil && m.Index.Indexed(skOf(r.DeleteRequest.Key)) {
		return 1 // the item's size is unknown here; index entries of the queue are <= 1 KB
	}
	return 0
}

// setsIndexKey matches an update expression that assigns the index attribute unconditionally
// (not through if_not_exists, which keeps an existing value).
var setsIndexKey = regexp.MustCompile(`(?:^|[\s,])(\S+)\s*=\s*(\S+)`)

// assignments caches setsIndexKey's matches per update expression: a client sends a handful of
// distinct expressions, and matching the regexp on every write cost the metered client CPU.
// At most maxAssignments are kept, in case some caller builds expressions from data.
var (
	assignments     sync.Map // string -> [][]string
	assignmentCount atomic.Int32
)

const maxAssignments = 256

// setAssignments returns the `name = value` pairs of an update expression (setsIndexKey).
func setAssignments(expr string) [][]string {
	if v, ok := assignments.Load(expr); ok {
		return v.([][]string)
	}
	mm := setsIndexKey.FindAllStringSubmatch(expr, -1)
	if assignmentCount.Add(1) <= maxAssignments {
		assignments.Store(expr, mm)
	}
	return mm
}

func (m *Meter) updateIndexUnits(in *dynamodb.UpdateItemInput, tableUnits float64) float64 {
	if m.Index == nil || !m.Index.Indexed(skOf(in.Key)) {
		return 0
	}
	size := max(tableUnits, 1) // table units = max(old, new) size in KB: the entry's size
	expr := ""
	if in.UpdateExpression != nil {
		expr = *in.UpdateExpression
	}
	for _, mm := range setAssignments(expr) {
		name := mm[1]
		if alias, ok := in.ExpressionAttributeNames[name]; ok {
			name = alias
		}
		if name == m.Index.Attr && !strings.HasPrefix(mm[2], "if_not_exists(") {
			return 2 * size // the index key changes: delete the old entry, put the new one
		}
	}
	return size // same index key, other projected attributes changed: rewrite the entry
}

func (m *Meter) deleteIndexUnits(in *dynamodb.DeleteItemInput, out *dynamodb.DeleteItemOutput, tableUnits float64) float64 {
	if m.Index == nil {
		return 0
	}
	if in.ReturnValues == types.ReturnValueAllOld {
		if out.Attributes == nil {
			return 0 // nothing was deleted
		}
		if _, ok := out.Attributes[m.Index.Attr]; !ok {
			return 0
		}
		return writeUnits(ItemSize(out.Attributes))
	}
	if m.Index.Indexed(skOf(in.Key)) {
		return max(tableUnits, 1)
	}
	return 0
}

func skOf(k map[string]types.AttributeValue) string {
	if s, ok := k["SK"].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// writeUnits is the write units of an item or index entry of size bytes: 1 per KB, at least 1.
func writeUnits(size int) float64 {
	return math.Max(1, math.Ceil(float64(size)/1024))
}

// ItemSize approximates DynamoDB's item size: attribute name lengths plus value sizes (strings
// and binaries by length, numbers by about one byte per two digits plus one).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

// significantDigits counts the digits of a number attribute's text without its sign, point and
// leading zeros (as DynamoDB sizes numbers). It allocates nothing: the meter sizes every item
// of every response, and a strings.Replacer per number was ~1.5% of the queue's client CPU.
func significantDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' || c == '.':
		case c == '0' && n == 0:
		default:
			n++
		}
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (significantDigits(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + ItemSize(v.Value)
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += valueSize(&types.AttributeValueMemberN{Value: s})
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	}
	return 0
}

// OpHintSuffix marks, in a Usage, the requests of activity hints (a push's hint writes, a
// watcher's hint reads): "UpdateItem (hint)", "Query (hint)". They are counted apart so that
// per-operation figures (claims are UpdateItems, polls Queries) stay those of the messages;
// Usage totals include them.
const OpHintSuffix = " (hint)"

// hintRequestKey marks the context of a hint request, for the attempts counter.
type hintRequestKey struct{}

// isHintRequest reports whether a request reads or writes an activity hint partition.
func isHintRequest(params any) bool {
	isHint := func(av types.AttributeValue) bool {
		s, ok := av.(*types.AttributeValueMemberS)
		return ok && strings.HasPrefix(s.Value, keys.HintPrefix)
	}
	switch in := params.(type) {
	case *dynamodb.UpdateItemInput:
		return isHint(in.Key["PK"])
	case *dynamodb.PutItemInput:
		return isHint(in.Item["PK"])
	case *dynamodb.QueryInput:
		return isHint(in.ExpressionAttributeValues[":pk"])
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, r := range reqs {
				if r.PutRequest == nil || !isHint(r.PutRequest.Item["PK"]) {
					return false
				}
			}
		}
		return len(in.RequestItems) > 0
	}
	return false
}
