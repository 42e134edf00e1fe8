// The AWS SDK for JavaScript v3 (@aws-sdk/client-sqs, resolved through NODE_PATH) against the
// SQS-compatible endpoint: send / receive / visibility / batch / dead-letter / FIFO, and the
// refusals. Run by sqsserver/sdk_js_test.go with SQS_ENDPOINT and the test keys in the
// environment; exits non-zero on the first failed check. Prints the protocol the SDK spoke.
"use strict";
const assert = require("node:assert/strict");
const sqs = require("@aws-sdk/client-sqs");
const version = require("@aws-sdk/client-sqs/package.json").version;

const env = process.env;
const endpoint = env.SQS_ENDPOINT;
const contentTypes = new Set();

function client(id, secret) {
  const c = new sqs.SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: id, secretAccessKey: secret },
    maxAttempts: 1,
  });
  // Record the protocol of every request (JSON 1.0 or the query protocol's form encoding).
  c.middlewareStack.add(
    (next) => async (args) => {
      const ct = args.request.headers["content-type"] || args.request.headers["Content-Type"];
      contentTypes.add(String(ct).split(";")[0]);
      return next(args);
    },
    { step: "finalizeRequest", name: "recordContentType" },
  );
  return c;
}

const a = client(env.A_KEY_ID, env.A_SECRET);
const b = client(env.B_KEY_ID, env.B_SECRET);
const queueURL = (clientID, name) => `${endpoint}/${clientID}/${name}`;

// Whether err carries the SQS code want. JSON-protocol SDKs read the legacy code from
// x-amzn-query-error into .Code; query-protocol SDKs turn a modelled code into an exception
// class named without the "AWS.SimpleQueueService." prefix (.name), and keep others in .Code.
function hasCode(err, want) {
  return err.Code === want || err.name === want || want === `AWS.SimpleQueueService.${err.name}`;
}

async function refused(promise, want, what) {
  try {
    await promise;
  } catch (err) {
    assert.ok(hasCode(err, want), `${what}: got ${err.Code}/${err.name} (${err.message}), want ${want}`);
    return;
  }
  assert.fail(`${what}: succeeded, want ${want}`);
}

async function receiveN(c, input, n) {
  const got = [];
  for (let round = 0; got.length < n; round++) {
    assert.ok(round < 30, `received ${got.length} messages, want ${n}`);
    const out = await c.send(new sqs.ReceiveMessageCommand({ ...input, WaitTimeSeconds: 1 }));
    got.push(...(out.Messages || []));
  }
  assert.equal(got.length, n);
  return got;
}

async function main() {
  // Send / receive with attributes.
  const { QueueUrl: url } = await a.send(new sqs.CreateQueueCommand({ QueueName: "js-orders", Attributes: { VisibilityTimeout: "30" } }));
  assert.equal(url, queueURL(env.A_CLIENT, "js-orders"));
  const sent = await a.send(new sqs.SendMessageCommand({
    QueueUrl: url,
    MessageBody: "héllo from node \u2603",
    MessageAttributes: { kind: { DataType: "String", StringValue: "greeting" }, n: { DataType: "Number", StringValue: "7" } },
  })); // the SDK checks MD5OfMessageBody
  assert.ok(sent.MessageId);
  const [m] = await receiveN(a, { QueueUrl: url, MessageAttributeNames: ["All"], AttributeNames: ["All"] }, 1);
  assert.equal(m.Body, "héllo from node \u2603");
  assert.equal(m.MessageAttributes.kind.StringValue, "greeting");
  assert.equal(m.Attributes.ApproximateReceiveCount, "1");

  // Visibility: back at once, received a second time.
  await a.send(new sqs.ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
  const [again] = await receiveN(a, { QueueUrl: url, AttributeNames: ["ApproximateReceiveCount"] }, 1);
  assert.equal(again.MessageId, m.MessageId);
  assert.equal(again.Attributes.ApproximateReceiveCount, "2");
  await a.send(new sqs.DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: again.ReceiptHandle }));

  // Batches.
  const batch = await a.send(new sqs.SendMessageBatchCommand({
    QueueUrl: url,
    Entries: [1, 2, 3, 4].map((i) => ({ Id: `e${i}`, MessageBody: `batch ${i}` })),
  }));
  assert.equal(batch.Successful.length, 4);
  assert.equal((batch.Failed || []).length, 0);
  const msgs = await receiveN(a, { QueueUrl: url, MaxNumberOfMessages: 10 }, 4);
  assert.deepEqual(msgs.map((x) => x.Body).sort(), ["batch 1", "batch 2", "batch 3", "batch 4"]);
  const vis = await a.send(new sqs.ChangeMessageVisibilityBatchCommand({
    QueueUrl: url,
    Entries: msgs.map((x, i) => ({ Id: `v${i}`, ReceiptHandle: x.ReceiptHandle, VisibilityTimeout: 60 })),
  }));
  assert.equal(vis.Successful.length, 4);
  const del = await a.send(new sqs.DeleteMessageBatchCommand({
    QueueUrl: url,
    Entries: [...msgs.map((x, i) => ({ Id: `d${i}`, ReceiptHandle: x.ReceiptHandle })), { Id: "bogus", ReceiptHandle: "not-a-handle" }],
  }));
  assert.equal(del.Successful.length, 4);
  assert.equal(del.Failed.length, 1);
  assert.equal(del.Failed[0].Id, "bogus");
  assert.equal(del.Failed[0].SenderFault, true);
  await refused(
    a.send(new sqs.SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: "x", MessageBody: "1" }, { Id: "x", MessageBody: "2" }] })),
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "batch with a repeated Id");

  // Dead letters.
  const { QueueUrl: dlq } = await a.send(new sqs.CreateQueueCommand({ QueueName: "js-dlq" }));
  const dlqArn = (await a.send(new sqs.GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ["QueueArn"] }))).Attributes.QueueArn;
  const { QueueUrl: work } = await a.send(new sqs.CreateQueueCommand({
    QueueName: "js-work",
    Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) },
  }));
  await a.send(new sqs.SendMessageCommand({ QueueUrl: work, MessageBody: "poison" }));
  const [p] = await receiveN(a, { QueueUrl: work }, 1);
  await a.send(new sqs.ChangeMessageVisibilityCommand({ QueueUrl: work, ReceiptHandle: p.ReceiptHandle, VisibilityTimeout: 0 }));
  const none = await a.send(new sqs.ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 1 }));
  assert.equal((none.Messages || []).length, 0, "a message over maxReceiveCount was delivered again");
  const [dead] = await receiveN(a, { QueueUrl: dlq }, 1);
  assert.equal(dead.Body, "poison");
  const sources = await a.send(new sqs.ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
  assert.deepEqual(sources.queueUrls || sources.QueueUrls, [work]);

  // FIFO: order within a group, content-based deduplication.
  const { QueueUrl: fifo } = await a.send(new sqs.CreateQueueCommand({
    QueueName: "js-jobs.fifo", Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
  }));
  for (const body of ["one", "two", "one", "three"]) {
    await a.send(new sqs.SendMessageCommand({ QueueUrl: fifo, MessageBody: body, MessageGroupId: "g" }));
  }
  const order = [];
  for (let round = 0; order.length < 3; round++) {
    assert.ok(round < 30, `FIFO received ${order}`);
    const out = await a.send(new sqs.ReceiveMessageCommand({ QueueUrl: fifo, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const x of out.Messages || []) {
      order.push(x.Body);
      await a.send(new sqs.DeleteMessageCommand({ QueueUrl: fifo, ReceiptHandle: x.ReceiptHandle }));
    }
  }
  assert.deepEqual(order, ["one", "two", "three"]);

  // Refusals: a wrong signature, an unknown key, another tenant's queue and receipt handle.
  await refused(client(env.A_KEY_ID, "wrong-secret-0123456789").send(new sqs.ListQueuesCommand({})), "SignatureDoesNotMatch", "wrong secret");
  await refused(client("UNKNOWNKEY000001", env.A_SECRET).send(new sqs.ListQueuesCommand({})), "InvalidClientTokenId", "unknown key");
  await refused(b.send(new sqs.SendMessageCommand({ QueueUrl: url, MessageBody: "intrusion" })), "AccessDenied", "tenant B sends to A's queue");
  await a.send(new sqs.SendMessageCommand({ QueueUrl: url, MessageBody: "A's" }));
  const [mine] = await receiveN(a, { QueueUrl: url, VisibilityTimeout: 300 }, 1);
  const { QueueUrl: urlB } = await b.send(new sqs.CreateQueueCommand({ QueueName: "js-b" }));
  await refused(b.send(new sqs.DeleteMessageCommand({ QueueUrl: urlB, ReceiptHandle: mine.ReceiptHandle })), "AccessDenied", "tenant B deletes with A's handle");
  await a.send(new sqs.DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: mine.ReceiptHandle }));

  console.log(JSON.stringify({ version, contentTypes: [...contentTypes] }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
