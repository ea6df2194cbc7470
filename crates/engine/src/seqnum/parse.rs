//! Reading sequence numbers from clients as AWS reads them.
//!
//! AWS accepts three forms (facts from kinesalite db/index.js `parseSequence`; the answers
//! below are AWS's, recorded in kinesalite test/getShardIterator.js and test/putRecord.js):
//! - version 2 (what AWS issues today, and this server too): above 2^185 and below
//!   1.5 * 2^185, last hex digit 2. The counter's and the shard index's top hex digits must
//!   be at most 7 ("8 in index" and "8 near end" are invalid for GetShardIterator; PutRecord
//!   accepts "8 near end" in SequenceNumberForOrdering).
//! - version 1: the same range, last hex digit 1; shard index at the same place.
//! - version 0: below 2^129, read after adding 2^124 to numbers under 2^124 (so "5" is a
//!   version 0 number of shard 5). Hex digits 1 to 9 are a creation second that must stay
//!   under 16025175000; hex digits 28 to 31 are the shard index. AWS quotes it with its top
//!   hex digit replaced by 1.
//! - Last hex digit 3 in that range makes PutRecord fail with InternalFailure; anything else
//!   is invalid.
//!
//! Release 0.1's layout (56 digits, leading 1) is read first: AWS would call it invalid.

use super::wide::Wide;
use super::{SeqNum, MAX_OFFSET, MAX_SHARD};

/// Creation seconds at or above this make a version 0 number invalid.
const V0_MAX_CREATED_S: u64 = 16_025_175_000;

/// A number's form, as AWS's parser classifies it.
enum Form {
    Legacy(SeqNum),
    /// Version 0, 1 or 2, with its hex digits (47 for versions 1 and 2).
    V0(String),
    V1(String),
    V2(String),
    V3,
}

fn classify(s: &str) -> Option<Form> {
    if let Some(n) = SeqNum::decode_legacy(s) {
        return Some(Form::Legacy(n));
    }
    let mut w = Wide::from_decimal(s)?;
    if w.bits() <= 124 {
        w.set_bit(124);
    }
    if w.bits() <= 129 {
        return Some(Form::V0(w.to_hex()));
    }
    // Above 2^185 (exactly 2^185 ends in 0, no version) and below 2^185 + 2^184.
    if w.bits() != 186 || w.bit(184) {
        return None;
    }
    let hex = w.to_hex();
    match hex.as_bytes()[46] {
        b'1' => Some(Form::V1(hex)),
        b'2' => Some(Form::V2(hex)),
        b'3' => Some(Form::V3),
        _ => None,
    }
}

fn field(hex: &str, from: usize, to: usize) -> u64 {
    // Callers slice at most 16 hex digits of a string of hex digits.
    u64::from_str_radix(&hex[from..to], 16).unwrap_or(u64::MAX)
}

fn top_digit_over_7(hex: &str, at: usize) -> bool {
    hex.as_bytes()[at] > b'7'
}

/// A version 2 number this server could have issued (see the layout in the module above).
fn ours_v2(hex: &str) -> Option<SeqNum> {
    let born = field(hex, 1, 10);
    let nibble = field(hex, 10, 11);
    let counter = field(hex, 11, 27);
    let byte = field(hex, 27, 29);
    let time_s = field(hex, 29, 38);
    let shard = field(hex, 38, 46);
    if byte != 0
        || shard > u64::from(MAX_SHARD)
        || nibble != shard & 0xf
        || born <= shard
        || counter > MAX_OFFSET
    {
        return None;
    }
    Some(SeqNum {
        stream: born - shard,
        shard: shard as u32,
        offset: counter,
        time_ms: time_s * 1000,
    })
}

/// What a StartingSequenceNumber names once AWS's parser accepts it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The shard index it encodes (checked before anything else).
    pub shard: u32,
    /// The number, if this server issued it.
    pub ours: Option<SeqNum>,
    /// How AWS quotes it when it did not come from this stream; None: as given.
    pub shown: Option<String>,
}

/// AT/AFTER_SEQUENCE_NUMBER's StartingSequenceNumber (GetShardIterator, SubscribeToShard).
/// None when AWS calls it invalid.
pub(crate) fn starting(s: &str) -> Option<Claim> {
    match classify(s)? {
        Form::Legacy(n) => Some(Claim {
            shard: n.shard,
            ours: Some(n),
            shown: None,
        }),
        Form::V2(hex) => {
            if top_digit_over_7(&hex, 11) || top_digit_over_7(&hex, 38) {
                return None;
            }
            Some(Claim {
                shard: field(&hex, 38, 46) as u32,
                ours: ours_v2(&hex),
                shown: None,
            })
        }
        Form::V1(hex) => Some(Claim {
            shard: field(&hex, 38, 46) as u32,
            ours: None,
            shown: None,
        }),
        Form::V0(hex) => {
            if field(&hex, 1, 10) >= V0_MAX_CREATED_S {
                return None;
            }
            let quoted = u128::from_str_radix(&format!("1{}", &hex[1..32]), 16).ok()?;
            Some(Claim {
                shard: field(&hex, 28, 32) as u32,
                ours: None,
                shown: Some(quoted.to_string()),
            })
        }
        Form::V3 => None,
    }
}

/// AWS's verdict on a SequenceNumberForOrdering.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OrderingCheck {
    Valid,
    Invalid,
    /// AWS answers InternalFailure (version 3).
    Fails,
}

/// PutRecord's SequenceNumberForOrdering at `now_ms`: any well-formed number whose arrival
/// time is not in the future, from any stream.
pub(crate) fn ordering(s: &str, now_ms: i64) -> OrderingCheck {
    let future = |secs: u64| secs.saturating_mul(1000) > now_ms.max(0) as u64;
    let valid = match classify(s) {
        None => false,
        Some(Form::V3) => return OrderingCheck::Fails,
        Some(Form::Legacy(n)) => n.time_ms <= now_ms.max(0) as u64,
        Some(Form::V2(hex)) => !top_digit_over_7(&hex, 11) && !future(field(&hex, 29, 38)),
        Some(Form::V1(hex)) => !future(field(&hex, 13, 22)),
        Some(Form::V0(hex)) => field(&hex, 1, 10) < V0_MAX_CREATED_S,
    };
    if valid {
        OrderingCheck::Valid
    } else {
        OrderingCheck::Invalid
    }
}

/// A number this server issued, in either layout.
pub(crate) fn ours(s: &str) -> Option<SeqNum> {
    starting(s)?.ours
}
