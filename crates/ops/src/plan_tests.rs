//! The planner against a model of the server: every step must be one Kinesis would accept
//! (a split key strictly inside the shard, a merge of two adjacent open shards), and the
//! layout it leaves must be exactly the balanced target.

use rand::{Rng, SeedableRng};

use super::*;

/// Applies `steps` to `open` as Kinesis would, panicking on a step Kinesis would refuse.
fn apply(open: &[Range], steps: &[Step]) -> Vec<Range> {
    let mut shards = open.to_vec();
    let find = |shards: &[Range], start: u128| {
        shards
            .iter()
            .position(|r| r.start == start)
            .unwrap_or_else(|| panic!("no open shard starts at {start}"))
    };
    for step in steps {
        match *step {
            Step::Split { shard, at } => {
                let i = find(&shards, shard);
                let r = shards[i];
                assert!(at > r.start && at <= r.end, "split key {at} outside {r:?}");
                shards[i] = Range {
                    start: r.start,
                    end: at - 1,
                };
                shards.push(Range {
                    start: at,
                    end: r.end,
                });
            }
            Step::Merge { left, right } => {
                let (l, r) = (find(&shards, left), find(&shards, right));
                assert_eq!(shards[l].end.checked_add(1), Some(right), "not adjacent");
                shards[l].end = shards[r].end;
                shards.remove(r);
            }
        }
    }
    shards.sort_by_key(|r| r.start);
    shards
}

fn size(r: &Range) -> u128 {
    r.end - r.start
}

/// `k` shards with random cut points (some near the ends of the space).
fn random_layout(rng: &mut impl Rng, k: usize) -> Vec<Range> {
    let mut cuts: Vec<u128> = (1..k)
        .map(|_| match rng.gen_range(0..4) {
            0 => rng.gen_range(1..1000),
            1 => u128::MAX - rng.gen_range(0..1000),
            _ => rng.gen_range(1..=u128::MAX),
        })
        .collect();
    cuts.sort();
    cuts.dedup();
    divided_at(cuts)
}

#[test]
fn target_is_contiguous_complete_and_balanced() {
    for n in [1u32, 2, 3, 5, 7, 10, 64, 1000, 9999, 10000, u32::MAX] {
        let t = target(n.min(20000));
        assert_eq!(t.len() as u32, n.min(20000));
        assert_eq!(t[0].start, 0);
        assert_eq!(t.last().unwrap().end, u128::MAX);
        for w in t.windows(2) {
            assert_eq!(w[0].end + 1, w[1].start);
        }
        let (lo, hi) = (t.iter().map(size).min(), t.iter().map(size).max());
        assert!(hi.unwrap() - lo.unwrap() <= 1, "n={n}: {lo:?}..{hi:?}");
    }
}

#[test]
fn boundaries_are_the_floor_of_i_times_two_to_the_128_over_n() {
    // 2^128 / 4 is exact; 2^128 / 3 = 113427455640312821154458202477256070485.33…
    assert_eq!(target(4)[1].start, 1u128 << 126);
    assert_eq!(target(3)[1].start, 113427455640312821154458202477256070485);
    assert_eq!(target(3)[2].start, 226854911280625642308916404954512140970);
    assert_eq!(target(2)[1].start, 1u128 << 127);
}

#[test]
fn a_balanced_stream_needs_no_step() {
    for n in 1..=40 {
        assert_eq!(plan(&target(n), n).unwrap(), vec![]);
    }
}

#[test]
fn three_to_five_to_two() {
    let three = target(3);
    let steps = plan(&three, 5).unwrap();
    let five = apply(&three, &steps);
    assert_eq!(five, target(5));
    // 4 boundaries inside the 3 shards, 2 target ranges straddling an old boundary.
    assert_eq!(
        steps
            .iter()
            .filter(|s| matches!(s, Step::Split { .. }))
            .count(),
        4
    );
    assert_eq!(
        steps
            .iter()
            .filter(|s| matches!(s, Step::Merge { .. }))
            .count(),
        2
    );
    let steps = plan(&five, 2).unwrap();
    assert_eq!(apply(&five, &steps), target(2));
}

#[test]
fn every_start_layout_reaches_exactly_the_balanced_target() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    for _ in 0..2000 {
        let k = rng.gen_range(1..=24);
        let n = rng.gen_range(1..=32);
        let open = random_layout(&mut rng, k);
        let steps = plan(&open, n).unwrap();
        assert_eq!(apply(&open, &steps), target(n), "from {open:?} to {n}");
        assert_eq!(plan(&target(n), n).unwrap(), vec![], "idempotent");
    }
}

#[test]
fn the_order_of_the_input_does_not_matter() {
    let mut open = target(6);
    open.reverse();
    assert_eq!(apply(&target(6), &plan(&open, 4).unwrap()), target(4));
}

#[test]
fn refuses_gaps_overlaps_and_zero() {
    let mut gap = target(4);
    gap.remove(1);
    assert_eq!(plan(&gap, 2), Err(PlanError::NotATiling));
    let mut overlap = target(2);
    overlap.push(Range { start: 5, end: 9 });
    assert_eq!(plan(&overlap, 2), Err(PlanError::NotATiling));
    assert_eq!(plan(&[], 2), Err(PlanError::NotATiling));
    assert_eq!(plan(&target(2), 0), Err(PlanError::NoShards));
    assert_eq!(plan(&target(2), u32::MAX), Err(PlanError::TooMany));
    assert_eq!(
        plan(&target(2), MAX_SHARDS).unwrap().len(),
        // Every boundary but the middle one (2^127, already there) is a split; no merge.
        MAX_SHARDS as usize - 2
    );
}
