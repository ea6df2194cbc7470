//! Sequence numbers in AWS's layout: what is issued, what is accepted, what is rejected and
//! with which of AWS's messages, and release 0.1's numbers still working.

use tributary_model::types::*;
use tributary_model::{GetShardIteratorError, PutRecordError, SubscribeToShardError};

use crate::*;

/// AWS Lambda's "Example Kinesis Record Event": a number of shard 6 of some other stream.
const LAMBDA_EXAMPLE: &str = "49590338271490256608559692538361571095921575989136588898";
/// The Developer Guide's put-record output: a number of shard 0 of some other stream.
const GUIDE_EXAMPLE: &str = "49546986683135544286507457936321625675700192471156785154";
const TOP: &str = "340282366920938463463374607431768211455";

/// Hex digits of a decimal number (what AWS's layout is defined in).
fn to_hex(decimal: &str) -> String {
    let mut limbs: Vec<u64> = vec![0; 8];
    for d in decimal.bytes() {
        let mut carry = u128::from(d - b'0');
        for l in limbs.iter_mut() {
            let v = u128::from(*l) * 10 + carry;
            *l = v as u64;
            carry = v >> 64;
        }
    }
    let s: String = limbs.iter().rev().map(|l| format!("{l:016x}")).collect();
    s.trim_start_matches('0').to_owned()
}

fn hex_field(hex: &str, from: usize, to: usize) -> u64 {
    u64::from_str_radix(&hex[from..to], 16).unwrap()
}

fn numeric_lt(a: &str, b: &str) -> bool {
    a.len() < b.len() || (a.len() == b.len() && a < b)
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn gsi(name: &str, shard: &str, kind: ShardIteratorType, seq: &str) -> GetShardIteratorInput {
    GetShardIteratorInput {
        stream_name: Some(name.into()),
        shard_id: shard.into(),
        shard_iterator_type: kind,
        starting_sequence_number: Some(seq.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn issued_numbers_carry_aws_fields() {
    let h = Harness::new().await;
    h.create("s", 2).await;
    let before = now_s();
    let a = h.put_hash("s", "0", "a").await;
    let b = h.put_hash("s", "0", "b").await;
    let c = h.put_hash("s", TOP, "c").await;
    let after = now_s();
    for (n, shard, offset) in [(&a, 0, 0), (&b, 0, 1), (&c, 1, 0)] {
        let seq = &n.sequence_number;
        assert_eq!(seq.len(), 56, "{seq}");
        let hex = to_hex(seq);
        assert_eq!(hex.len(), 47, "{hex}");
        assert_eq!(&hex[..1], "2", "{hex}");
        assert_eq!(&hex[46..], "2", "version digit of {hex}");
        assert_eq!(hex_field(&hex, 38, 46), shard, "shard index in {hex}");
        assert_eq!(hex_field(&hex, 10, 11), shard & 0xf, "{hex}");
        assert_eq!(hex_field(&hex, 11, 27), offset, "counter in {hex}");
        assert_eq!(&hex[27..29], "00");
        let t = hex_field(&hex, 29, 38);
        assert!((before..=after).contains(&t), "arrival second {t} in {hex}");
    }
    assert!(numeric_lt(&a.sequence_number, &b.sequence_number));
    // DescribeStream's ranges are in the same layout; the start is below every record.
    let d = h.describe("s").await;
    let start = &d.shards[0].sequence_number_range.starting_sequence_number;
    assert_eq!(to_hex(start).len(), 47);
    assert!(numeric_lt(start, &a.sequence_number));
}

#[tokio::test]
async fn children_number_above_parents_and_order_after_them() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let parent = h.put("s", "k", "p").await;
    h.engine
        .split_shard(
            &h.ctx,
            SplitShardInput {
                stream_name: Some("s".into()),
                shard_to_split: "shardId-0".into(),
                new_starting_hash_key: "170141183460469231731687303715884105728".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut input = put_input("s", "k", "c");
    input.sequence_number_for_ordering = Some(parent.sequence_number.clone());
    let child = h.engine.put_record(&h.ctx, input).await.unwrap();
    assert_ne!(child.shard_id, parent.shard_id);
    assert!(numeric_lt(&parent.sequence_number, &child.sequence_number));
    // The closed parent's range ends above its records and below its children's start.
    let d = h.describe("s").await;
    let end = d.shards[0]
        .sequence_number_range
        .ending_sequence_number
        .clone()
        .unwrap();
    assert!(numeric_lt(&parent.sequence_number, &end));
    for s in &d.shards[1..] {
        assert!(numeric_lt(
            &end,
            &s.sequence_number_range.starting_sequence_number
        ));
    }
    // Reading on from the parent's number, AFTER it: the end of the parent.
    let it = h
        .iterator(
            "s",
            "shardId-0",
            ShardIteratorType::AfterSequenceNumber,
            Some(&parent.sequence_number),
        )
        .await;
    let out = h.get(&it).await;
    assert!(out.records.is_empty());
    assert_eq!(out.next_shard_iterator, None);
    assert_eq!(out.child_shards.map(|c| c.len()), Some(2));
}

#[tokio::test]
async fn release_0_1_numbers_still_position_iterators() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let mut new = Vec::new();
    for d in ["a", "b", "c"] {
        new.push(h.put("s", "k", d).await.sequence_number);
    }
    // The stream id is the born field minus the shard index.
    let stream = hex_field(&to_hex(&new[0]), 1, 10);
    let old = |offset: u64, ms: u64| format!("1{stream:012}{:010}{offset:020}{ms:013}", 0);
    let arrival = hex_field(&to_hex(&new[1]), 29, 38) * 1000 + 123;
    for (kind, seq, want) in [
        (
            ShardIteratorType::AtSequenceNumber,
            old(1, arrival),
            vec!["b", "c"],
        ),
        (
            ShardIteratorType::AfterSequenceNumber,
            old(1, arrival),
            vec!["c"],
        ),
        // 0.1's StartingSequenceNumber and ContinuationSequenceNumber (time 0) are positions.
        (
            ShardIteratorType::AfterSequenceNumber,
            old(0, 0),
            vec!["a", "b", "c"],
        ),
    ] {
        let it = h.iterator("s", "shardId-0", kind, Some(&seq)).await;
        let out = h.get(&it).await;
        assert_eq!(
            out.records.iter().map(data_str).collect::<Vec<_>>(),
            want,
            "{kind:?} {seq}"
        );
        // Read back under the numbers issued now.
        assert_eq!(out.records[0].sequence_number, new[3 - want.len()]);
    }
    // A 0.1 number of another shard and of another stream, with AWS's messages.
    let e = h
        .engine
        .get_shard_iterator(
            &h.ctx,
            gsi(
                "s",
                "shardId-0",
                ShardIteratorType::AtSequenceNumber,
                &format!("1{:012}{:010}{:033}", stream, 4, 0),
            ),
        )
        .await;
    assert_eq!(
        e,
        Err(GetShardIteratorError::InvalidArgument(
            "Invalid StartingSequenceNumber. It encodes shardId-000000000004, while it was used in a call to \
             a shard with shardId-000000000000"
                .into()
        ))
    );
    let other = format!("1{:012}{:043}", stream + 1, 0);
    let e = h
        .engine
        .get_shard_iterator(
            &h.ctx,
            gsi(
                "s",
                "shardId-0",
                ShardIteratorType::AtSequenceNumber,
                &other,
            ),
        )
        .await;
    assert_eq!(
        e,
        Err(GetShardIteratorError::InvalidArgument(format!(
            "StartingSequenceNumber {other} used in GetShardIterator on shard shardId-000000000000 in stream s \
             under account {ACCOUNT} is invalid because it did not come from this stream."
        )))
    );
}

/// AWS's answers, recorded in kinesalite test/getShardIterator.js, and for numbers AWS
/// published (decoded in the engine's seqnum unit tests).
#[tokio::test]
async fn starting_numbers_rejected_with_aws_messages() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let invalid = |seq: &str| {
        GetShardIteratorError::InvalidArgument(format!(
            "StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000 in stream s \
             under account {ACCOUNT} is invalid."
        ))
    };
    let not_this_stream = |seq: &str| {
        GetShardIteratorError::InvalidArgument(format!(
            "StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000 in stream s \
             under account {ACCOUNT} is invalid because it did not come from this stream."
        ))
    };
    let eight_in_index = "49039857307719593840066370180380661734935976090628259842";
    assert_eq!(&to_hex(eight_in_index)[..12], "200000000008");
    let cases = [
        (
            LAMBDA_EXAMPLE,
            GetShardIteratorError::InvalidArgument(
                "Invalid StartingSequenceNumber. It encodes shardId-000000000006, while it was used in a call to \
                 a shard with shardId-000000000000"
                    .into(),
            ),
        ),
        (GUIDE_EXAMPLE, not_this_stream(GUIDE_EXAMPLE)),
        ("0", not_this_stream("21267647932558653966460912964485513216")),
        (eight_in_index, invalid(eight_in_index)),
        ("4294967296", not_this_stream("21267647932558653966460912968780480512")),
        (&"9".repeat(56), invalid(&"9".repeat(56))),
    ];
    for (seq, want) in cases {
        for kind in [
            ShardIteratorType::AtSequenceNumber,
            ShardIteratorType::AfterSequenceNumber,
        ] {
            let e = h
                .engine
                .get_shard_iterator(&h.ctx, gsi("s", "shardId-0", kind, seq))
                .await;
            assert_eq!(e, Err(want.clone()), "{seq}");
        }
    }
}

#[tokio::test]
async fn a_recreated_stream_rejects_its_predecessors_numbers() {
    let h = Harness::with_config(fast_timers()).await;
    h.create("s", 1).await;
    wait_for(&h, "s", StreamStatus::Active).await;
    let old = h.put("s", "k", "x").await.sequence_number;
    h.engine
        .delete_stream(
            &h.ctx,
            DeleteStreamInput {
                stream_name: Some("s".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for _ in 0..500 {
        if h.engine
            .list_streams(&h.ctx, ListStreamsInput::default())
            .await
            .unwrap()
            .stream_names
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    h.create("s", 1).await;
    wait_for(&h, "s", StreamStatus::Active).await;
    let e = h
        .engine
        .get_shard_iterator(
            &h.ctx,
            gsi("s", "shardId-0", ShardIteratorType::AtSequenceNumber, &old),
        )
        .await;
    assert_eq!(
        e,
        Err(GetShardIteratorError::InvalidArgument(format!(
            "StartingSequenceNumber {old} used in GetShardIterator on shard shardId-000000000000 in stream s \
             under account {ACCOUNT} is invalid because it did not come from this stream."
        )))
    );
}

/// AWS's answers recorded in kinesalite test/putRecord.js.
#[tokio::test]
async fn ordering_numbers_as_aws_answers() {
    let h = Harness::new().await;
    h.create("s", 1).await;
    let put = |seq: String| {
        let mut input = put_input("s", "k", "x");
        input.sequence_number_for_ordering = Some(seq);
        h.engine.put_record(&h.ctx, input)
    };
    // Accepted: published numbers of other streams, version 1 numbers, old-form numbers.
    for ok in [
        LAMBDA_EXAMPLE,
        GUIDE_EXAMPLE,
        "49039857308065255390643594839074465368162025693970956289",
        "0",
    ] {
        assert!(put(ok.into()).await.is_ok(), "{ok}");
    }
    // Exactly 2^185 (no version), "8 in index", and a version 2 number from the future.
    let future = {
        let hex = format!("2{:09x}0{:016x}00{:09x}{:08x}2", 1, 0, now_s() + 60, 0);
        let mut limbs = [0u64; 3];
        for c in hex.chars() {
            let mut carry = u128::from(c.to_digit(16).unwrap());
            for l in limbs.iter_mut() {
                let v = u128::from(*l) * 16 + carry;
                *l = v as u64;
                carry = v >> 64;
            }
        }
        to_decimal(limbs)
    };
    for bad in [
        "49039857307708443467467104868809893875799651909875269632".to_owned(),
        "49039857307719593840066370180380661734935976090628259842".to_owned(),
        future,
    ] {
        assert_eq!(
            put(bad.clone()).await,
            Err(PutRecordError::InvalidArgument(format!(
                "ExclusiveMinimumSequenceNumber {bad} used in PutRecord on stream s under account {ACCOUNT} is \
                 invalid."
            )))
        );
    }
    // Version 3: AWS fails internally.
    assert_eq!(
        put("49039857307708443467467104868809893875799651909875269635".into()).await,
        Err(PutRecordError::InternalFailure(
            "Internal service failure.".into()
        ))
    );
}

fn to_decimal(mut limbs: [u64; 3]) -> String {
    let mut digits = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u128;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*l);
            *l = (cur / 10) as u64;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

#[tokio::test]
async fn subscribe_checks_starting_numbers_like_get_shard_iterator() {
    let h = Harness::new().await;
    h.create("s", 2).await;
    let consumer = h.register("s", "c").await;
    let q = h.put_hash("s", TOP, "y").await;
    let e = h
        .subscribe(
            &consumer.consumer_arn,
            "shardId-0",
            ShardIteratorType::AtSequenceNumber,
            Some(&q.sequence_number),
        )
        .await
        .err();
    assert_eq!(
        e,
        Some(SubscribeToShardError::InvalidArgument(
            "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to \
             a shard with shardId-000000000000"
                .into()
        ))
    );
    let e = h
        .subscribe(
            &consumer.consumer_arn,
            "shardId-0",
            ShardIteratorType::AtSequenceNumber,
            Some(GUIDE_EXAMPLE),
        )
        .await
        .err();
    assert_eq!(
        e,
        Some(SubscribeToShardError::InvalidArgument(format!(
            "StartingSequenceNumber {GUIDE_EXAMPLE} used in SubscribeToShard on shard shardId-000000000000 in \
             stream s under account {ACCOUNT} is invalid because it did not come from this stream."
        )))
    );
    let bad = "9".repeat(56);
    let e = h
        .subscribe(
            &consumer.consumer_arn,
            "shardId-0",
            ShardIteratorType::AfterSequenceNumber,
            Some(&bad),
        )
        .await
        .err();
    assert_eq!(
        e,
        Some(SubscribeToShardError::InvalidArgument(format!(
            "StartingSequenceNumber {bad} used in SubscribeToShard on shard shardId-000000000000 in stream s \
             under account {ACCOUNT} is invalid."
        )))
    );
}
