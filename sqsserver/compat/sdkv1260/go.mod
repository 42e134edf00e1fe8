module github.com/dynamodbqueue/dynamodbqueue/sqsserver/compat/sdkv1260

go 1.26.0

require github.com/dynamodbqueue/dynamodbqueue v0.0.0

require (
	github.com/aws/aws-sdk-go-v2 v1.48.0 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.5.12 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.8.12 // indirect
	github.com/aws/aws-sdk-go-v2/service/sqs v1.53.0 // indirect
	github.com/aws/smithy-go v1.28.9 // indirect
)

// The main module, as it is in this work tree (only its package sqsserver/compat/scenario,
// and testkeys, are built here; the endpoint runs as a `ddbq serve` process).
replace github.com/dynamodbqueue/dynamodbqueue => ../../..

// The main module requires the current SDK; these pin service/sqs v1.26.0, the last version
// that speaks the query protocol, and the SDK core and smithy-go it was released with (newer
// cores dropped middleware it uses), for every package of this build.
replace (
	github.com/aws/aws-sdk-go-v2 => github.com/aws/aws-sdk-go-v2 v1.22.1
	github.com/aws/aws-sdk-go-v2/internal/configsources => github.com/aws/aws-sdk-go-v2/internal/configsources v1.2.1
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 => github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.5.1
	github.com/aws/aws-sdk-go-v2/service/sqs => github.com/aws/aws-sdk-go-v2/service/sqs v1.26.0
	github.com/aws/smithy-go => github.com/aws/smithy-go v1.16.0
)
