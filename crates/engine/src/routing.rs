//! Hash keys: the 128-bit space records are routed in, and how shards divide it.
//!
//! A record's hash key is the MD5 of its partition key read as a big-endian integer, or
//! the ExplicitHashKey the producer gave. Each open shard owns a contiguous, inclusive range
//! of the space; together the open shards cover `0 ..= 2^128-1` exactly once.

use md5::{Digest, Md5};

/// MD5 of the partition key's UTF-8 bytes, as a big-endian 128-bit integer (what AWS does).
pub(crate) fn partition_hash(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// A decimal hash key, or None when it is not a number in `0 ..= 2^128-1`.
/// (The protocol layer has already checked the `0|([1-9]\d{0,38})` pattern.)
pub(crate) fn parse_hash_key(s: &str) -> Option<u128> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u128>().ok()
}

/// `n` ranges splitting the space evenly, as AWS does at CreateStream: each range is
/// `floor(2^128 / n)` wide and the last one takes the remainder.
pub(crate) fn even_ranges(n: u32) -> Vec<(u128, u128)> {
    assert!(n >= 1, "a stream has at least one shard");
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    let n128 = u128::from(n);
    // floor((u128::MAX + 1) / n) without overflowing: one more than floor(MAX / n)
    // exactly when n divides 2^128.
    let step = u128::MAX / n128 + u128::from(u128::MAX % n128 == n128 - 1);
    (0..n128)
        .map(|i| {
            let start = i * step;
            let end = if i == n128 - 1 {
                u128::MAX
            } else {
                (i + 1) * step - 1
            };
            (start, end)
        })
        .collect()
}

/// One open shard's slice of the hash space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub start: u128,
    pub end: u128,
    pub shard: u32,
}

/// The open shards of a stream, sorted by range, for binary-search routing.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    pub(crate) fn new(mut routes: Vec<Route>) -> Self {
        routes.sort_by_key(|r| r.start);
        RouteTable { routes }
    }

    /// Position in [`routes`](Self::routes) of the shard owning `hash`.
    pub(crate) fn position(&self, hash: u128) -> Option<usize> {
        let i = self.routes.partition_point(|r| r.start <= hash);
        let i = i.checked_sub(1)?;
        (self.routes[i].end >= hash).then_some(i)
    }

    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shards_match_aws() {
        // The boundaries AWS gives a 3-shard stream (recorded in kinesalite's tests).
        let r = even_ranges(3);
        assert_eq!(r[0], (0, 113427455640312821154458202477256070484));
        assert_eq!(
            r[1],
            (
                113427455640312821154458202477256070485,
                226854911280625642308916404954512140969
            )
        );
        assert_eq!(r[2], (226854911280625642308916404954512140970, u128::MAX));
    }

    #[test]
    fn even_ranges_cover_the_space() {
        for n in [1u32, 2, 3, 4, 7, 8, 64, 1000] {
            let r = even_ranges(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].0, 0);
            assert_eq!(r.last().unwrap().1, u128::MAX);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0);
            }
        }
        // Powers of two split exactly.
        assert_eq!(even_ranges(2)[1].0, 1u128 << 127);
        assert_eq!(even_ranges(4)[1].0, 1u128 << 126);
    }

    #[test]
    fn partition_keys_route_like_aws() {
        // kinesalite's PutRecords test: on 3 even shards a->0, b->1, e->2, f->1.
        let t = RouteTable::new(
            even_ranges(3)
                .into_iter()
                .enumerate()
                .map(|(i, (start, end))| Route {
                    start,
                    end,
                    shard: i as u32,
                })
                .collect(),
        );
        let shard = |k: &str| t.routes()[t.position(partition_hash(k)).unwrap()].shard;
        assert_eq!(
            [shard("a"), shard("b"), shard("e"), shard("f")],
            [0, 1, 2, 1]
        );
    }

    #[test]
    fn md5_is_big_endian() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(partition_hash(""), 0xd41d8cd98f00b204e9800998ecf8427e);
    }

    #[test]
    fn hash_keys_parse_within_range() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455"),
            Some(u128::MAX)
        );
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(
            parse_hash_key("999999999999999999999999999999999999999"),
            None
        );
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
    }

    #[test]
    fn routing_finds_edges_and_gaps() {
        let t = RouteTable::new(vec![
            Route {
                start: 10,
                end: 19,
                shard: 5,
            },
            Route {
                start: 0,
                end: 9,
                shard: 4,
            },
        ]);
        assert_eq!(t.position(0), Some(0));
        assert_eq!(t.position(9), Some(0));
        assert_eq!(t.position(10), Some(1));
        assert_eq!(t.position(19), Some(1));
        assert_eq!(t.position(20), None);
    }
}
