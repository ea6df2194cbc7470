//! AWS's wording at the protocol level: the class names of `SerializationException`, the forms
//! and orders of `ValidationException`, and SigV4 problems in AWS's order of checks. Every case
//! runs over HTTP/1.1 and h2c, with a JSON and a CBOR body, and compares the whole answer byte
//! for byte with the body AWS sends (encoded in the request's format). The sources of AWS's
//! answers are cited beside the code that words them (crates/protocol/src/check.rs,
//! validate.rs, crates/auth/src/sigv4/verify.rs); CBOR answers are reconstructed from the
//! JSON ones.

use tributary_auth::format_amz_date;
use tributary_model::Value;
use tributary_protocol::{encode_output, Format};
use tributary_testkit::raw::{kinesis_request, send, Http, RawResponse};
use tributary_testkit::TestServer;

use crate::server;

const FORMATS: [Format; 2] = [Format::Json, Format::Cbor];
const HTTPS: [Http; 2] = [Http::H1, Http::H2c];
const NUMBER: &str = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
const START_OF_LIST: &str = "Start of list found where not expected";
const START_OF_MAP: &str = "Start of structure or map found where not expected.";

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn text(s: &str) -> Value {
    Value::Str(s.to_string())
}

/// AWS's error body: the deserializer's own exception spells its key `Message`.
fn error(code: &str, message: &str) -> Value {
    let key = if code == "SerializationException" {
        "Message"
    } else {
        "message"
    };
    obj(&[("__type", text(code)), (key, text(message))])
}

/// Checks status, body and the headers that describe it.
fn assert_answer(r: &RawResponse, format: Format, status: u16, expected: &Value, what: &str) {
    let want = encode_output(format, expected);
    assert_eq!(
        (r.status.as_u16(), &r.body[..]),
        (status, &want[..]),
        "{what}: got {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.headers["content-type"], format.content_type(), "{what}");
    assert_eq!(
        r.headers["content-length"],
        want.len().to_string(),
        "{what}"
    );
    assert!(!r.headers["x-amzn-requestid"].is_empty(), "{what}");
}

/// Sends `body` to `target` in every protocol and format and expects `expected` with `status`.
async fn expect_everywhere(
    s: &TestServer,
    target: &str,
    body: &Value,
    status: u16,
    expected: &Value,
) {
    for http in HTTPS {
        for format in FORMATS {
            let req = kinesis_request(
                Some(target),
                Some(format.content_type()),
                encode_output(format, body),
            );
            let r = send(s.addr, http, req).await;
            let what = format!("{http:?} {format:?} {target} {body:?}");
            assert_answer(&r, format, status, expected, &what);
        }
    }
}

async fn expect_serialization(s: &TestServer, target: &str, body: Value, message: &str) {
    expect_everywhere(
        s,
        target,
        &body,
        400,
        &error("SerializationException", message),
    )
    .await;
}

async fn expect_validation(s: &TestServer, target: &str, body: Value, message: &str) {
    expect_everywhere(
        s,
        target,
        &body,
        400,
        &error("ValidationException", message),
    )
    .await;
}

/// kinesalite test/helpers.js `assertType`, recorded against AWS: each wrong type for each
/// kind of member, and the reverse for collections and structures.
#[tokio::test]
async fn serialization_exceptions_name_awss_classes() {
    let s = server();
    let number = |target: &str| format!("{NUMBER} can not be converted to {target}");
    let numbers = [
        Value::Int(23),
        Value::Int(2_147_483_648),
        Value::Float(34.56),
    ];
    let shapes = [
        (Value::List(vec![]), START_OF_LIST.to_string()),
        (Value::Map(vec![]), START_OF_MAP.to_string()),
    ];

    // Where a string is expected (PutRecord's StreamName).
    let mut cases = vec![(
        Value::Bool(true),
        "class java.lang.Boolean can not be converted to an String".to_string(),
    )];
    cases.extend(numbers.iter().map(|n| (n.clone(), number("an String"))));
    cases.extend(shapes.iter().cloned());
    for (value, message) in cases {
        expect_serialization(&s, "PutRecord", obj(&[("StreamName", value)]), &message).await;
    }

    // Where a blob is expected (PutRecord's Data).
    let mut cases = vec![
        (
            Value::Bool(true),
            "class java.lang.Boolean can not be converted to a Blob".to_string(),
        ),
        (
            text("23456"),
            "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5".to_string(),
        ),
        (
            text("=+/="),
            "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='".to_string(),
        ),
        (
            text("+/+="),
            "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected".to_string(),
        ),
    ];
    cases.extend(numbers.iter().map(|n| (n.clone(), number("a Blob"))));
    cases.extend(shapes.iter().cloned());
    for (value, message) in cases {
        expect_serialization(&s, "PutRecord", obj(&[("Data", value)]), &message).await;
    }

    // Where a timestamp is expected (GetShardIterator's Timestamp): kinesalite
    // validations/index.js.
    let mut cases = vec![
        (
            Value::Bool(true),
            "class java.lang.Boolean can not be converted to milliseconds since epoch".to_string(),
        ),
        (
            text("2024-01-01T00:00:00Z"),
            "class java.lang.String can not be converted to milliseconds since epoch".to_string(),
        ),
    ];
    cases.extend(shapes.iter().cloned());
    for (value, message) in cases {
        expect_serialization(
            &s,
            "GetShardIterator",
            obj(&[("Timestamp", value)]),
            &message,
        )
        .await;
    }

    // Where a boolean is expected (DeleteStream's EnforceConsumerDeletion): strings are named
    // back in capitals, whole numbers are refused.
    let mut cases = vec![
        (
            text("23"),
            "'23' can not be converted to an Boolean".to_string(),
        ),
        (
            text("maybe"),
            "'MAYBE' can not be converted to an Boolean".to_string(),
        ),
        (Value::Int(23), number("an Boolean")),
    ];
    cases.extend(shapes.iter().cloned());
    for (value, message) in cases {
        expect_serialization(
            &s,
            "DeleteStream",
            obj(&[
                ("StreamName", text("s")),
                ("EnforceConsumerDeletion", value),
            ]),
            &message,
        )
        .await;
    }

    // Where an integer is expected (CreateStream's ShardCount).
    for (value, message) in [
        (
            text("23"),
            "class java.lang.String can not be converted to an Integer",
        ),
        (
            Value::Bool(true),
            "class java.lang.Boolean can not be converted to an Integer",
        ),
        (Value::List(vec![]), START_OF_LIST),
        (Value::Map(vec![]), START_OF_MAP),
    ] {
        expect_serialization(&s, "CreateStream", obj(&[("ShardCount", value)]), message).await;
    }

    // The reverse: scalars where a list, a map or a structure is expected.
    for value in [
        text("23"),
        Value::Bool(true),
        Value::Int(23),
        Value::Float(34.56),
    ] {
        let put = obj(&[("Records", value.clone())]);
        expect_serialization(&s, "PutRecords", put, "Expected list or null").await;
        let tags = obj(&[("Tags", value.clone())]);
        expect_serialization(&s, "AddTagsToStream", tags, "Expected map or null").await;
        let mode = obj(&[("StreamModeDetails", value)]);
        expect_serialization(&s, "CreateStream", mode, "Expected null").await;
    }
    let records = obj(&[("Records", Value::Map(vec![]))]);
    expect_serialization(&s, "PutRecords", records, START_OF_MAP).await;
    let tags = obj(&[("Tags", Value::List(vec![]))]);
    expect_serialization(&s, "AddTagsToStream", tags, START_OF_LIST).await;
    let mode = obj(&[("StreamModeDetails", Value::List(vec![]))]);
    expect_serialization(&s, "CreateStream", mode, START_OF_LIST).await;
}

/// What AWS reads as a boolean and how it truncates integers: accepted, and read as AWS reads
/// them (PutRecord's DryRun tells true from false by its answer).
#[tokio::test]
async fn what_aws_reads_leniently_is_read() {
    let s = server();
    crate::create(&s.sdk(), "lenient", 1).await;
    let put = |dry_run: Value| {
        obj(&[
            ("StreamName", text("lenient")),
            ("PartitionKey", text("k")),
            ("Data", Value::Blob(bytes::Bytes::from_static(b"x"))),
            ("DryRun", dry_run),
        ])
    };
    let dry = error(
        "DryRunOperationException",
        "Request would have succeeded, but DryRun flag is set.",
    );
    for truthy in [text("true"), text("yes"), text("1"), Value::Float(34.56)] {
        expect_everywhere(&s, "PutRecord", &put(truthy), 400, &dry).await;
    }
    for falsy in [text("false"), text("no"), text("0")] {
        for http in HTTPS {
            for format in FORMATS {
                let body = encode_output(format, &put(falsy.clone()));
                let req = kinesis_request(Some("PutRecord"), Some(format.content_type()), body);
                let r = send(s.addr, http, req).await;
                assert_eq!(r.status, 200, "{falsy:?} {http:?} {format:?}: {:?}", r.body);
            }
        }
    }
    // A number past i32 arrives as its bound (kinesalite validations/index.js; the lower bound
    // reconstructed the same way), as the message's value shows; a fraction is truncated.
    for (limit, message) in [
        (
            Value::Int(100_000_000_000),
            "Value '2147483647' at 'limit' failed to satisfy constraint: \
             Member must have value less than or equal to 10000",
        ),
        (
            Value::Int(-100_000_000_000),
            "Value '-2147483648' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        ),
        (
            Value::Float(0.5),
            "Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        ),
    ] {
        let body = obj(&[("ShardIterator", text("x")), ("Limit", limit)]);
        let message = format!("1 validation error detected: {message}");
        expect_validation(&s, "GetRecords", body, &message).await;
    }
}

/// AWS's member order, constraint order and enum order (kinesalite's tests, recorded against
/// AWS, adapted only where today's model differs: fewer required members, anchored patterns).
#[tokio::test]
async fn validation_errors_are_counted_and_ordered_as_aws_does() {
    let s = server();
    let empty = text("");
    // test/putRecord.js "should return ValidationException for empty StreamName".
    expect_validation(
        &s,
        "PutRecord",
        obj(&[
            ("StreamName", empty.clone()),
            ("PartitionKey", empty.clone()),
            ("Data", empty.clone()),
            ("ExplicitHashKey", empty.clone()),
            ("SequenceNumberForOrdering", empty.clone()),
        ]),
        "5 validation errors detected: \
         Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,128}))$; \
         Value '' at 'partitionKey' failed to satisfy constraint: \
         Member must have length greater than or equal to 1; \
         Value '' at 'explicitHashKey' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,38}))$; \
         Value '' at 'streamName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value '' at 'streamName' failed to satisfy constraint: \
         Member must have length greater than or equal to 1",
    )
    .await;
    // test/getShardIterator.js: the enum in the order AWS prints it.
    expect_validation(
        &s,
        "GetShardIterator",
        obj(&[
            ("StreamName", text("s")),
            ("ShardId", text("shardId-0")),
            ("ShardIteratorType", text("NEWEST")),
        ]),
        "1 validation error detected: Value 'NEWEST' at 'shardIteratorType' failed to satisfy \
         constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, \
         AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
    )
    .await;
    // test/mergeShards.js "should return ValidationException for no StreamName".
    expect_validation(
        &s,
        "MergeShards",
        obj(&[]),
        "2 validation errors detected: \
         Value null at 'shardToMerge' failed to satisfy constraint: Member must not be null; \
         Value null at 'adjacentShardToMerge' failed to satisfy constraint: Member must not be null",
    )
    .await;
    // At most ten errors, counted as ten (test/putRecords.js "too many records").
    let records: Vec<Value> = (0..12)
        .map(|_| obj(&[("PartitionKey", empty.clone()), ("Data", empty.clone())]))
        .collect();
    let listed: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                "Value '' at 'records.{i}.member.partitionKey' failed to satisfy constraint: \
                 Member must have length greater than or equal to 1"
            )
        })
        .collect();
    expect_validation(
        &s,
        "PutRecords",
        obj(&[("StreamName", text("s")), ("Records", Value::List(records))]),
        &format!("10 validation errors detected: {}", listed.join("; ")),
    )
    .await;
}

/// One error at the collection's path for the scalars of a list or a map.
#[tokio::test]
async fn list_members_and_map_values_are_judged_as_a_whole() {
    let s = server();
    let long = "a".repeat(129);
    // kinesalite test/removeTagsFromStream.js "should return ValidationException for long TagKey".
    expect_validation(
        &s,
        "RemoveTagsFromStream",
        obj(&[
            ("StreamName", text("s")),
            (
                "TagKeys",
                Value::List(vec![text("a"), text(&long), text("b")]),
            ),
        ]),
        &format!(
            "1 validation error detected: Value '[a, {long}, b]' at 'tagKeys' failed to satisfy \
             constraint: Member must satisfy constraint: [Member must have length less than or \
             equal to 128, Member must have length greater than or equal to 1]"
        ),
    )
    .await;
    // kinesalite test/addTagsToStream.js "long tag value" and "long tag key".
    let value = "v".repeat(257);
    expect_validation(
        &s,
        "AddTagsToStream",
        obj(&[
            ("StreamName", text("s")),
            ("Tags", obj(&[("a", text("1")), ("c", text(&value))])),
        ]),
        &format!(
            "1 validation error detected: Value '{{a=1, c={value}}}' at 'tags' failed to satisfy \
             constraint: Map value must satisfy constraint: [Member must have length less than \
             or equal to 256, Member must have length greater than or equal to 0]"
        ),
    )
    .await;
    expect_validation(
        &s,
        "AddTagsToStream",
        obj(&[
            ("StreamName", text("s")),
            ("Tags", obj(&[(&long, text("3"))])),
        ]),
        &format!(
            "1 validation error detected: Value '{{{long}=3}}' at 'tags' failed to satisfy \
             constraint: Map keys must satisfy constraint: [Member must have length less than \
             or equal to 128, Member must have length greater than or equal to 1]"
        ),
    )
    .await;
    // An enum inside a list (reconstructed form), its values in AWS's order.
    expect_validation(
        &s,
        "EnableEnhancedMonitoring",
        obj(&[
            ("StreamName", text("s")),
            (
                "ShardLevelMetrics",
                Value::List(vec![text("ALL"), text("Nope")]),
            ),
        ]),
        "1 validation error detected: Value '[ALL, Nope]' at 'shardLevelMetrics' failed to \
         satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: \
         [ALL, IteratorAgeMilliseconds, IncomingBytes, WriteProvisionedThroughputExceeded, \
         OutgoingRecords, ReadProvisionedThroughputExceeded, IncomingRecords, OutgoingBytes]]",
    )
    .await;
}

/// The `Authorization` header's problems, each answered for the first check it fails in AWS's
/// order (see crates/auth/src/sigv4/verify.rs). The server runs without keys here, so it checks
/// the form only; the key and the signature come last and are covered below.
#[tokio::test]
async fn sigv4_problems_are_reported_in_awss_order() {
    let s = server();
    let cases = [
        // kinesalite test/connection.js "should return IncompleteSignatureException if invalid auth".
        (
            "X",
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter. \
             Authorization header requires 'Signature' parameter. \
             Authorization header requires 'SignedHeaders' parameter. Authorization=X",
        ),
        // kinesalite test/connection.js 'header is "AWS4- Signature=b Credential=a"': the
        // missing part before the unknown algorithm.
        (
            "AWS4- Signature=b Credential=a",
            "IncompleteSignatureException",
            "Authorization header requires 'SignedHeaders' parameter. \
             Authorization=AWS4- Signature=b Credential=a",
        ),
        // An unsigned host before the algorithm, the algorithm before the credential.
        (
            "AWS4-HMAC-SHA512 Credential=a, SignedHeaders=x-amz-date, Signature=b",
            "InvalidSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
        (
            "AWS4-HMAC-SHA512 Credential=a, SignedHeaders=host;x-amz-date, Signature=b",
            "IncompleteSignatureException",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/20240101/us-east-1/kinesis, SignedHeaders=host;x-amz-date, Signature=b",
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got 'a/20240101/us-east-1/kinesis'",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/20240102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=b",
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'kinesis'. Date in Credential \
             scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: \
             '20240102' != '20240101', from '20240101T000000Z'. ",
        ),
    ];
    for (authorization, code, message) in cases {
        for http in HTTPS {
            for format in FORMATS {
                let mut req = kinesis_request(
                    Some("ListStreams"),
                    Some(format.content_type()),
                    encode_output(format, &obj(&[])),
                );
                req.headers_mut()
                    .insert("authorization", authorization.parse().unwrap());
                let r = send(s.addr, http, req).await;
                let what = format!("{http:?} {format:?} {authorization}");
                assert_answer(&r, format, 400, &error(code, message), &what);
            }
        }
    }
}

/// With keys configured: an unknown key is reported before a wrong signature.
#[tokio::test]
async fn an_unknown_key_is_reported_before_the_signature() {
    let s = TestServer::start_with_env(
        env!("CARGO_BIN_EXE_tributary"),
        &[],
        &[
            ("TRIBUTARY_ACCESS_KEY_ID", "AKIAKNOWN"),
            ("TRIBUTARY_SECRET_ACCESS_KEY", "secret"),
        ],
    );
    let cases = [
        (
            "AKIAUNKNOWN",
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        (
            "AKIAKNOWN",
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        ),
    ];
    for (key, code, message) in cases {
        for http in HTTPS {
            for format in FORMATS {
                let mut req = kinesis_request(
                    Some("ListStreams"),
                    Some(format.content_type()),
                    encode_output(format, &obj(&[])),
                );
                // Dated now, so that the clock is no objection.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64;
                let date = format_amz_date(now);
                let authorization = format!(
                    "AWS4-HMAC-SHA256 Credential={key}/{}/us-east-1/kinesis/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature=00",
                    &date[..8]
                );
                req.headers_mut()
                    .insert("authorization", authorization.parse().unwrap());
                req.headers_mut()
                    .insert("x-amz-date", date.parse().unwrap());
                let r = send(s.addr, http, req).await;
                let what = format!("{http:?} {format:?} {key}");
                assert_answer(&r, format, 400, &error(code, message), &what);
            }
        }
    }
}
