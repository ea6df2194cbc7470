use super::*;
use crate::meta::{Distribution, FORMAT_VERSION};

fn stream(n: u32) -> StreamRecord {
    StreamRecord {
        v: FORMAT_VERSION,
        id: 1,
        account: "000000000000".into(),
        region: "us-east-1".into(),
        name: "s".into(),
        created_ms: 0,
        status: Status::Active,
        mode: Mode::Provisioned,
        retention_hours: 24,
        max_record_kib: 1024,
        distribution: Distribution::UserPartitionKey,
        warm_mibps: None,
        metrics: vec![],
        tags: vec![],
        next_shard: n,
        shards: even_ranges(n)
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| ShardRecord {
                index: i as u32,
                start,
                end,
                parent: None,
                adjacent: None,
                created_ms: 0,
                closed_ms: None,
            })
            .collect(),
        pending: None,
        encryption: None,
    }
}

fn open_ranges(rec: &StreamRecord) -> Vec<(u128, u128)> {
    let mut r: Vec<_> = rec
        .shards
        .iter()
        .filter(|s| s.is_open())
        .map(|s| (s.start, s.end))
        .collect();
    r.sort_unstable();
    r
}

/// Every child's parents are closed and cover exactly the child's range, so a reader
/// following the lineage sees every hash key exactly once.
fn assert_lineage(rec: &StreamRecord) {
    for s in &rec.shards {
        let parents: Vec<&ShardRecord> = [s.parent, s.adjacent]
            .into_iter()
            .flatten()
            .map(|p| rec.shards.iter().find(|x| x.index == p).unwrap())
            .collect();
        if parents.is_empty() {
            continue;
        }
        assert!(
            parents.iter().all(|p| !p.is_open()),
            "parent of {} is open",
            s.index
        );
        assert!(s.index > parents.iter().map(|p| p.index).max().unwrap());
        if parents.len() == 2 {
            assert_eq!(parents[0].end + 1, parents[1].start);
            assert_eq!((parents[0].start, parents[1].end), (s.start, s.end));
        } else {
            assert!(parents[0].start <= s.start && s.end <= parents[0].end);
        }
    }
}

#[test]
fn split_closes_the_parent_and_halves_its_range() {
    let mut rec = stream(1);
    let applied = apply_plan(&mut rec, &Plan::Split { shard: 0, at: 2 }, 50).unwrap();
    assert_eq!(
        applied,
        Applied {
            closed: vec![0],
            created: vec![1, 2]
        }
    );
    assert_eq!(rec.shards[0].closed_ms, Some(50));
    assert_eq!((rec.shards[1].start, rec.shards[1].end), (0, 1));
    assert_eq!((rec.shards[2].start, rec.shards[2].end), (2, u128::MAX));
    assert_eq!(rec.shards[1].parent, Some(0));
    assert_lineage(&rec);
}

#[test]
fn merge_joins_adjacent_shards() {
    let mut rec = stream(3);
    let applied = apply_plan(
        &mut rec,
        &Plan::Merge {
            shard: 0,
            adjacent: 1,
        },
        9,
    )
    .unwrap();
    assert_eq!(
        applied,
        Applied {
            closed: vec![0, 1],
            created: vec![3]
        }
    );
    let child = &rec.shards[3];
    assert_eq!((child.parent, child.adjacent), (Some(0), Some(1)));
    assert_eq!((child.start, child.end), (0, rec.shards[1].end));
    assert!(apply_plan(
        &mut rec,
        &Plan::Merge {
            shard: 2,
            adjacent: 3
        },
        9
    )
    .is_err());
    assert_lineage(&rec);
}

#[test]
fn scaling_reaches_the_even_split_with_valid_lineage() {
    for (from, to) in [
        (1, 2),
        (2, 4),
        (4, 2),
        (3, 5),
        (5, 3),
        (2, 3),
        (3, 6),
        (6, 3),
        (7, 4),
        (4, 7),
    ] {
        let mut rec = stream(from);
        let applied = apply_plan(&mut rec, &Plan::Scale { target: to }, 1).unwrap();
        assert_eq!(open_ranges(&rec), even_ranges(to), "{from} -> {to}");
        assert_lineage(&rec);
        // Everything created is either open now or closed as an intermediate.
        for i in &applied.created {
            let s = rec.shards.iter().find(|s| s.index == *i).unwrap();
            assert!(s.is_open() || applied.closed.contains(i));
        }
        for s in rec.shards.iter().filter(|s| s.index < from) {
            assert!(
                !s.is_open(),
                "{from} -> {to}: original shard {} still open",
                s.index
            );
        }
    }
}

#[test]
fn doubling_splits_each_shard_once() {
    let mut rec = stream(2);
    let applied = apply_plan(&mut rec, &Plan::Scale { target: 4 }, 1).unwrap();
    assert_eq!(applied.closed, vec![0, 1]);
    assert_eq!(applied.created.len(), 4);
}

#[test]
fn scaling_after_uneven_splits_still_converges() {
    let mut rec = stream(1);
    apply_plan(
        &mut rec,
        &Plan::Split {
            shard: 0,
            at: 12_345,
        },
        1,
    )
    .unwrap();
    apply_plan(
        &mut rec,
        &Plan::Split {
            shard: 2,
            at: 1 << 100,
        },
        1,
    )
    .unwrap();
    apply_plan(&mut rec, &Plan::Scale { target: 5 }, 2).unwrap();
    assert_eq!(open_ranges(&rec), even_ranges(5));
    assert_lineage(&rec);
}
