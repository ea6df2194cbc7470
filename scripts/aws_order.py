"""The orders AWS's validator prints members and enum values in (used by gen_model.py)."""

# ---- the orders AWS's validator prints things in ------------------------------------------
# AWS's constraint messages list members and enum values in the iteration order of Java hash
# tables, not in the model's order. Both rules below are fitted to every order recorded
# against real AWS that we found, and reproduce all of them:
# - members (kinesalite test/putRecord.js, putRecords.js, getShardIterator.js, createStream.js,
#   mergeShards.js): a Java 7 `HashMap` (16 buckets, supplemental hash, new entries at the
#   head of their bucket) keyed by the lower-camel member name, filled in model order;
# - enum values (kinesalite test/getShardIterator.js before and after AT_TIMESTAMP; DynamoDB's
#   ComparisonOperator, Select and ReturnConsumedCapacity in dynalite's validations; Lambda's
#   LogType; Cognito's MFA configuration): 32 buckets indexed by the raw `String.hashCode`,
#   later values first within a bucket.
# Where two members share a bucket, only a recording says which comes first; the one recorded
# case the model's order gets wrong is listed here.
RECORDED_MEMBER_ORDER = {
    # kinesalite test/mergeShards.js "should return ValidationException for no StreamName".
    "MergeShardsInput": ["ShardToMerge", "AdjacentShardToMerge"],
}


def java_hash(s):
    """Java's String.hashCode over UTF-16 code units, as an unsigned 32-bit value."""
    h = 0
    units = s.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def java7_spread(h):
    h ^= (h >> 20) ^ (h >> 12)
    return (h ^ (h >> 7) ^ (h >> 4)) & 0xFFFFFFFF


def java7_hashmap_order(keys):
    """Iteration order of a Java 7 HashMap (default capacity, 0.75 load) filled with `keys`."""
    table = [[] for _ in range(16)]
    size = 0

    def bucket(k, n):
        return java7_spread(java_hash(k)) & (n - 1)

    for k in keys:
        if size >= len(table) * 3 // 4 and table[bucket(k, len(table))]:
            grown = [[] for _ in range(len(table) * 2)]
            for chain in table:
                for old in chain:
                    grown[bucket(old, len(grown))].insert(0, old)
            table = grown
        table[bucket(k, len(table))].insert(0, k)
        size += 1
    return [k for chain in table for k in chain]


def lower_first(name):
    return name[:1].lower() + name[1:]


def aws_member_order(shape_name, members):
    """`members` (model order) in the order AWS's validator reports them."""
    by_key = {lower_first(m): m for m in members}
    order = [by_key[k] for k in java7_hashmap_order(list(by_key))]
    recorded = RECORDED_MEMBER_ORDER.get(shape_name)
    if recorded:
        slots = sorted(order.index(m) for m in recorded)
        for slot, m in zip(slots, recorded):
            order[slot] = m
    return order


def aws_enum_order(values):
    """`values` (model order) in the order AWS prints them in 'enum value set: [...]'."""
    n = 32
    while len(values) > n * 3 // 4:
        n *= 2
    return sorted(values, key=lambda v: (java_hash(v) & (n - 1), -values.index(v)))
