use super::parse::Claim;
use super::wide::Wide;
use super::*;

fn dec(hex: &str) -> String {
    Wide::from_hex(hex).to_decimal()
}

fn hex(decimal: &str) -> String {
    Wide::from_decimal(decimal).unwrap().to_hex()
}

/// Numbers of one length compare as strings; all of ours are 56 digits.
fn numeric_lt(a: &str, b: &str) -> bool {
    a.len() < b.len() || (a.len() == b.len() && a < b)
}

#[test]
fn decodes_published_aws_numbers() {
    // AWS Lambda's "Example Kinesis Record Event": shardId-000000000006, arrival
    // 1545084650.987.
    let lambda = "49590338271490256608559692538361571095921575989136588898";
    assert_eq!(
        hex(lambda),
        // 2 | born 05bf4e5c2 | ix 6 | counter 0000000067648a17 | 00 | time 05c181eea | shard 00000006 | 2
        "205bf4e5c260000000067648a170005c181eea000000062"
    );
    let claim = starting(lambda).unwrap();
    assert_eq!(claim.shard, 6);
    assert_eq!(
        claim.ours,
        Some(SeqNum {
            stream: 1_542_776_258 - 6,
            shard: 6,
            offset: 1_734_642_199,
            time_ms: 1_545_084_650_000,
        })
    );
    // The Developer Guide's put-record output on shardId-000000000000.
    let guide = "49546986683135544286507457936321625675700192471156785154";
    assert_eq!(
        hex(guide),
        "2054b6fffe000000000000001d500054b7009a000000002"
    );
    let n = starting(guide).unwrap().ours.unwrap();
    assert_eq!((n.shard, n.offset, n.time_ms), (0, 469, 1_421_279_386_000));
    // Born 1421279230, 156 seconds before the record arrived.
    assert_eq!(n.stream, 1_421_279_230);
}

#[test]
fn encodes_in_aws_layout() {
    let n = SeqNum::new(42, 7, 123_456, 1_700_000_000_123);
    let text = n.encode();
    assert_eq!(
        text,
        "49039857325348332919504827923013793132631275704831443058"
    );
    assert_eq!(
        hex(&text),
        format!(
            "2{:09x}7{:016x}00{:09x}{:08x}2",
            42 + 7,
            123_456,
            1_700_000_000u64,
            7
        )
    );
    assert_eq!(
        SeqNum::shard_start(1, 0).encode(),
        "49039857308065255390643594839074465368162025693970956290"
    );
    assert_eq!(
        crate::messages::canonical_shard_id(17),
        "shardId-000000000017"
    );
}

#[test]
fn round_trips_at_second_precision() {
    for s in [
        SeqNum::new(1, 0, 0, 0),
        SeqNum::new(42, 7, 123_456, 1_700_000_000_000),
        SeqNum::new(MAX_STREAM, MAX_SHARD, MAX_OFFSET, MAX_TIME_S as i64 * 1000),
        SeqNum::shard_end(3, 17, 1_700_000_000_000),
    ] {
        let text = s.encode();
        assert_eq!(text.len(), 56, "{text}");
        assert!(text.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(SeqNum::decode(&text), Some(s));
    }
    // Milliseconds are not carried.
    let n = SeqNum::new(2, 1, 5, 1_700_000_000_999);
    assert_eq!(
        SeqNum::decode(&n.encode()).unwrap().time_ms,
        1_700_000_000_000
    );
}

#[test]
fn strictly_increasing_within_a_shard_whatever_the_time() {
    let a = SeqNum::new(9, 3, 10, 2_000_000_000_000).encode();
    let b = SeqNum::new(9, 3, 11, 1_000_000_000_000).encode();
    assert!(numeric_lt(&a, &b));
}

#[test]
fn shard_bounds_enclose_records() {
    let start = SeqNum::shard_start(5, 2).encode();
    let first = SeqNum::new(5, 2, 0, 1_700_000_000_000).encode();
    let last = SeqNum::new(5, 2, MAX_OFFSET - 1, 9_000_000_000_000).encode();
    let end = SeqNum::shard_end(5, 2, 1_000).encode();
    assert!(numeric_lt(&start, &first) && numeric_lt(&first, &last) && numeric_lt(&last, &end));
}

#[test]
fn children_number_above_parents() {
    let parent = SeqNum::new(5, 0, 1_000_000, 1_800_000_000_000).encode();
    let child = SeqNum::new(5, 1, 0, 0).encode();
    assert!(numeric_lt(&parent, &child));
    // Across the wrap of the repeated low hex digit of the index.
    let parent = SeqNum::new(5, 15, MAX_OFFSET - 1, 1_800_000_000_000).encode();
    let child = SeqNum::new(5, 16, 0, 0).encode();
    assert!(numeric_lt(&parent, &child));
}

#[test]
fn release_0_1_numbers_still_decode() {
    let old = format!(
        "1{:012}{:010}{:020}{:013}",
        42, 7, 123_456, 1_700_000_000_123u64
    );
    let n = SeqNum {
        stream: 42,
        shard: 7,
        offset: 123_456,
        time_ms: 1_700_000_000_123,
    };
    assert_eq!(SeqNum::decode(&old), Some(n));
    assert_eq!(
        starting(&old),
        Some(Claim {
            shard: 7,
            ours: Some(n),
            shown: None
        })
    );
    assert_eq!(ordering(&old, 1_700_000_000_123), OrderingCheck::Valid);
    assert_eq!(ordering(&old, 1_700_000_000_122), OrderingCheck::Invalid);
    // Stream id 0 never existed, and an offset above u64::MAX is not one: then it is
    // read as AWS reads it, and AWS has no number between 1e55 and 2e55.
    assert!(starting(&format!("1{}", "0".repeat(55))).is_none());
    let over = format!("1{:012}{:010}{}{:013}", 1, 0, "9".repeat(20), 0);
    assert!(starting(&over).is_none());
}

/// AWS's answers for GetShardIterator, recorded in kinesalite test/getShardIterator.js.
#[test]
fn starting_numbers_as_aws_reads_them() {
    // "shard mismatches simple sequence": "5" encodes shardId-000000000005.
    assert_eq!(starting("5").unwrap().shard, 5);
    // "small (old?) sequence number": "0" is quoted as 2^124.
    let claim = starting("0").unwrap();
    assert_eq!(claim.shard, 0);
    assert_eq!(claim.ours, None);
    assert_eq!(
        claim.shown.as_deref(),
        Some("21267647932558653966460912964485513216")
    );
    // "more complex (old?) sequence number", used on shardId-000000000002.
    let claim = starting("425352958651173072921826052383309826").unwrap();
    assert_eq!(claim.shard, 2);
    assert_eq!(
        claim.shown.as_deref(),
        Some("21693000891209827039382739016868823042")
    );
    // "large (old?) sequence number".
    let claim = starting(&dec("f3bb2cc3d7ff7fffffffffffffff0000")).unwrap();
    assert_eq!(claim.shard, 0);
    assert_eq!(
        claim.shown.as_deref(),
        Some("26227199374821822965252748908982894592")
    );
    // "sequence number with large date", "8 in index", "8 near end": invalid.
    assert_eq!(starting(&dec("13bb2cc3d80000000000000000000000")), None);
    assert_eq!(
        starting(&dec("20000000000800000000000000000000000000000000002")),
        None
    );
    assert_eq!(
        starting(&dec("20000000000000000000000000000000000000800000002")),
        None
    );
    // Version 1 names its shard at the same place; never one of ours.
    let claim = starting(&dec("20000000000000000000000000000000000000000000031")).unwrap();
    assert_eq!((claim.shard, claim.ours, claim.shown), (3, None, None));
    // Not digits, or out of every range.
    for bad in [
        "",
        "x",
        "-1",
        &"9".repeat(56),
        &dec("20000000000000000000000000000000000000000000004"),
    ] {
        assert_eq!(starting(bad), None, "{bad}");
    }
}

/// AWS's answers for PutRecord, recorded in kinesalite test/putRecord.js.
#[test]
fn ordering_numbers_as_aws_reads_them() {
    let now_ms = 1_800_000_000_000i64;
    let now_s = now_ms / 1000;
    let with_time = |t: i64| dec(&format!("2ffffffffff7fffffff7fffffff00{t:09x}7fffffff2"));
    for (hex_number, want) in [
        (
            "20000000000000000000000000000000000000000000000",
            OrderingCheck::Invalid,
        ),
        (
            "20000000000000000000000000000000000000000000004",
            OrderingCheck::Invalid,
        ),
        (
            "20000000000000000000000000000000000000000000003",
            OrderingCheck::Fails,
        ),
        (
            "30000000000000000000000000000000000000000000001",
            OrderingCheck::Invalid,
        ),
        (
            "1ffffffffff7fffffffffffffff000000000007fffffff2",
            OrderingCheck::Invalid,
        ),
        (
            "20000000000800000000000000000000000000000000002",
            OrderingCheck::Invalid,
        ),
        ("13bb2cc3d80000000000000000000000", OrderingCheck::Invalid),
        (
            "2ffffffffff7fffffffffffffff000000000007fffffff2",
            OrderingCheck::Valid,
        ),
        (
            "20000000000000000000000000000000000000000000002",
            OrderingCheck::Valid,
        ),
        (
            "20000000000000000000000000000000000000000000001",
            OrderingCheck::Valid,
        ),
        (
            "20000000000000000000000000000000000000800000002",
            OrderingCheck::Valid,
        ),
    ] {
        assert_eq!(ordering(&dec(hex_number), now_ms), want, "{hex_number}");
    }
    assert_eq!(
        ordering(&with_time(now_s - 2), now_ms),
        OrderingCheck::Valid
    );
    assert_eq!(
        ordering(&with_time(now_s + 2), now_ms),
        OrderingCheck::Invalid
    );
    // Any stream's numbers order, ours too.
    let ours = SeqNum::new(3, 1, 9, now_ms).encode();
    assert_eq!(ordering(&ours, now_ms), OrderingCheck::Valid);
    assert_eq!(ordering("5", now_ms), OrderingCheck::Valid);
}

#[test]
fn foreign_v2_numbers_are_not_ours() {
    let good = SeqNum::new(8, 3, 77, 1_700_000_000_000).encode();
    let h = hex(&good);
    // A non-zero byte, a wrong repeated index digit, a born field not above the index.
    for (at, digit) in [(28, 'a'), (10, '4'), (9, '1')] {
        let mut bad = h.clone();
        bad.replace_range(at..at + 1, &digit.to_string());
        let bad = dec(&bad);
        let claim = starting(&bad).unwrap();
        assert_eq!((claim.shard, claim.ours), (3, None), "{bad}");
    }
}
