#!/usr/bin/env bash
# End-to-end scenario against a running Tributary with the AWS CLI v1
# (HTTP/1.1, JSON 1.1). The same story as python/scenario_boto3.py: create,
# 1,000 writes, reads by every iterator type, split, merge, retention, tags,
# paginated listings, delete.
#
# Usage: scenario_awscli.sh [ENDPOINT]   (default: $TRIBUTARY_ENDPOINT)
# Needs `aws` (awscli v1) and `python3` on PATH; run.sh puts
# tests/clients/.venv/bin first. JSON answers are picked apart by
# cli_helpers.py next to this file.
#
# The first failed check stops the run with "FAIL [step] ..."; the last line is
# always "awscli: N passed, M failed".
set -euo pipefail

ENDPOINT=${1:-${TRIBUTARY_ENDPOINT:-}}
if [[ -z $ENDPOINT ]]; then
  echo "usage: $0 ENDPOINT (or set TRIBUTARY_ENDPOINT)" >&2
  exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d)
R=$WORK/answer.json          # the JSON answer of the last `kin` call
WRITTEN=$WORK/written.jsonl  # every accepted record, in acceptance order
READ=$WORK/read.jsonl        # records read by the last read_shard
STREAM="tributary-cli-$(date +%s)-$RANDOM"
CREATED=()
PASSED=0
THROTTLED=0
STEP=setup
REPORTED=0

# Dummy credentials: signatures are not verified by default, but a SigV4
# header must be present and its scope carries the region. No config files
# from the machine running the test, and no CLI retries, so that server errors
# surface; throttling alone is retried, in `kin`.
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=$WORK/no-config AWS_SHARED_CREDENTIALS_FILE=$WORK/no-credentials
export AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
unset AWS_PROFILE AWS_SESSION_TOKEN

finish() {
  local rc=$?
  if (( rc != 0 && REPORTED == 0 )); then
    echo "FAIL [$STEP] stopped with exit status $rc (see the message above)"
  fi
  echo "   (${SECONDS}s, $THROTTLED throttled calls retried)"
  echo "awscli: $PASSED passed, $(( rc == 0 ? 0 : 1 )) failed"
  rm -rf "$WORK"
}
trap finish EXIT

step() { STEP=$1; echo "-- $1"; }
fail() { echo "FAIL [$STEP] $*" >&2; REPORTED=1; exit 1; }
pass() { PASSED=$((PASSED + 1)); }
eq() { # eq WHAT ACTUAL EXPECTED
  [[ $2 == "$3" ]] || fail "$1: expected '$3', got '$2'"
  pass
}
check() { # check WHAT COMMAND... : the command must succeed; its output is the reason if not
  local what=$1 out
  shift
  if ! out=$("$@" 2>&1); then fail "$what: $out"; fi
  pass
}
h() { python3 "$HERE/cli_helpers.py" "$@"; }
get() { h get "$R" "$1"; }   # get PYTHON_EXPR over d = the last answer
big() { python3 -c "print($1)"; }  # arithmetic on 128-bit hash keys
sorted_words() { printf '%s\n' "$@" | sort | paste -sd' '; }

# kin ARGS... : `aws kinesis ARGS`, JSON answer into $R. Backs off on
# throttling (as any Kinesis client must); any other error fails the step.
kin() {
  local attempt
  for attempt in 1 2 3 4 5 6; do
    if aws --endpoint-url "$ENDPOINT" --output json kinesis "$@" >"$R" 2>"$WORK/stderr"; then
      return 0
    fi
    if (( attempt < 6 )) && grep -qE 'ProvisionedThroughputExceeded|LimitExceeded' "$WORK/stderr"; then
      THROTTLED=$((THROTTLED + 1))
      sleep "$attempt"
      continue
    fi
    fail "aws kinesis $1 failed: $(cat "$WORK/stderr")"
  done
}

# aws_wait WAITER STREAM : the CLI's own waiter (stream-exists / stream-not-exists).
aws_wait() {
  check "aws kinesis wait $1 $2" aws --endpoint-url "$ENDPOINT" kinesis wait "$1" --stream-name "$2"
}

# iterator SHARD TYPE [ARGS...] : GetShardIterator; the iterator lands in $ITER.
iterator() {
  local shard=$1 type=$2
  shift 2
  kin get-shard-iterator --stream-name "$STREAM" --shard-id "$shard" --shard-iterator-type "$type" "$@"
  ITER=$(get 'd["ShardIterator"]')
}

# read_shard MODE ITERATOR [LIMIT] : GetRecords into $READ until done (see
# `cli_helpers.py page` for MODE: tip, first, closed); the last page stays in $R.
read_shard() {
  local mode=$1 it=$2 limit=${3:-} n
  : >"$READ"
  for n in $(seq 300); do
    kin get-records --shard-iterator "$it" ${limit:+--limit "$limit"}
    it=$(h page "$R" "$READ" "$mode")
    if [[ -z $it ]]; then return 0; fi
  done
  fail "no end after 300 GetRecords calls"
}

# put_batch FILE : PutRecords of a batch file, resubmitting throttled entries.
put_batch() {
  local attempt remaining
  for attempt in 1 2 3 4 5 6; do
    kin put-records --stream-name "$STREAM" --records "file://$1"
    remaining=$(h accept "$1" "$R" "$WRITTEN")
    if [[ $remaining == 0 ]]; then pass; return 0; fi
    THROTTLED=$((THROTTLED + remaining))
    sleep "$attempt"
  done
  fail "PutRecords still throttled after 6 attempts"
}

# put_one KEY DATA [ARGS...] : PutRecord; its ShardId lands in $PUT_SHARD.
put_one() {
  local pk=$1 data=$2
  shift 2
  kin put-record --stream-name "$STREAM" --partition-key "$pk" --data "$data" "$@"
  PUT_SHARD=$(h accept-single "$pk" "$data" "$R" "$WRITTEN")
}

# shards : ListShards of the stream into $WORK/shards.json and SHARDS (lines
# of `cli_helpers.py shards`).
shards() {
  kin list-shards --stream-name "$STREAM"
  cp "$R" "$WORK/shards.json"
  mapfile -t SHARDS < <(h shards "$WORK/shards.json")
}

echo "awscli: endpoint $ENDPOINT, $(aws --version 2>&1)"

step "DescribeStream on a missing stream"
if aws --endpoint-url "$ENDPOINT" kinesis describe-stream --stream-name "tributary-missing-$RANDOM$RANDOM" \
  >"$R" 2>"$WORK/stderr"; then
  fail "describe-stream of a missing stream succeeded"
fi
check "error is ResourceNotFoundException: $(cat "$WORK/stderr")" grep -q ResourceNotFoundException "$WORK/stderr"

step "CreateStream $STREAM with 2 shards, wait stream-exists"
kin create-stream --stream-name "$STREAM" --shard-count 2
CREATED+=("$STREAM")
aws_wait stream-exists "$STREAM"
kin describe-stream --stream-name "$STREAM"
eq "StreamStatus" "$(get 'd["StreamDescription"]["StreamStatus"]')" ACTIVE
eq "StreamARN" "$(get 'd["StreamDescription"]["StreamARN"].startswith("arn:aws:kinesis:us-east-1:") and d["StreamDescription"]["StreamARN"].split(":stream/")[1]')" "$STREAM"
shards
eq "shard count" "${#SHARDS[@]}" 2
read -r SHARD_A LO_A HI_A _ _ _ <<<"${SHARDS[0]}"
read -r SHARD_B LO_B HI_B _ _ _ <<<"${SHARDS[1]}"
eq "hash ranges cover 0..2^128-1" "$LO_A $(big "$HI_A + 1 == $LO_B") $HI_B" "0 True $(big '2**128 - 1')"
cp "$WORK/shards.json" "$WORK/shards-initial.json"

step "Put 1,000 records (5 put-record + put-records batches of 500 and 495)"
T_BEFORE=$(date -u -d "@$(( $(date +%s) - 1 ))" +%Y-%m-%dT%H:%M:%SZ)
for i in 1 2 3 4 5; do
  put_one "single-$i-$RANDOM$RANDOM" "$(h text 64)"
done
for n in 500 495; do
  h gen "$n" "$WORK/batch.json"
  put_batch "$WORK/batch.json"
done
check "1,000 records accepted, routed by MD5(key), in order per shard" \
  h check-written "$WRITTEN" "$WORK/shards-initial.json" 1000

step "Read back with TRIM_HORIZON"
iterator "$SHARD_A" TRIM_HORIZON
read_shard tip "$ITER" 100
check "$SHARD_A from TRIM_HORIZON (--limit 100)" h compare "$READ" "$WRITTEN" "$SHARD_A"
iterator "$SHARD_B" TRIM_HORIZON
read_shard tip "$ITER"
check "$SHARD_B from TRIM_HORIZON" h compare "$READ" "$WRITTEN" "$SHARD_B"

step "AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER"
K=$(( $(h count "$WRITTEN" "$SHARD_A") / 2 ))
SEQ_K=$(h seq-at "$WRITTEN" "$SHARD_A" "$K")
iterator "$SHARD_A" AT_SEQUENCE_NUMBER --starting-sequence-number "$SEQ_K"
read_shard first "$ITER" 5
check "first record AT_SEQUENCE_NUMBER" h compare "$READ" "$WRITTEN" "$SHARD_A" "$K" 1
iterator "$SHARD_A" AFTER_SEQUENCE_NUMBER --starting-sequence-number "$SEQ_K"
read_shard first "$ITER" 5
check "first record AFTER_SEQUENCE_NUMBER" h compare "$READ" "$WRITTEN" "$SHARD_A" "$((K + 1))" 1

step "AT_TIMESTAMP"
FUTURE=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
for shard in "$SHARD_A" "$SHARD_B"; do
  iterator "$shard" AT_TIMESTAMP --timestamp "$T_BEFORE"
  read_shard tip "$ITER"
  check "$shard AT_TIMESTAMP $T_BEFORE (before the first put)" h compare "$READ" "$WRITTEN" "$shard"
  # A timestamp in the future yields nothing. AWS itself refuses it in
  # GetShardIterator (InvalidArgumentException, "timestampInMillis parameter
  # cannot be greater than the currentTimestampInMillis"); an iterator that
  # then reads no records is accepted as well.
  if aws --endpoint-url "$ENDPOINT" --output json kinesis get-shard-iterator --stream-name "$STREAM" \
    --shard-id "$shard" --shard-iterator-type AT_TIMESTAMP --timestamp "$FUTURE" >"$R" 2>"$WORK/stderr"; then
    kin get-records --shard-iterator "$(get 'd["ShardIterator"]')"
    eq "$shard records AT_TIMESTAMP one hour ahead" "$(get 'len(d["Records"])')" 0
  else
    check "$shard error for AT_TIMESTAMP one hour ahead: $(cat "$WORK/stderr")" \
      grep -q InvalidArgumentException "$WORK/stderr"
  fi
done

step "LATEST"
iterator "$SHARD_B" LATEST
kin get-records --shard-iterator "$ITER"
eq "records at LATEST before a new put" "$(get 'len(d["Records"])')" 0
# The iterator with its JSON quotes, as `$(jq .ShardIterator)` passes it: AWS reads on.
kin get-records --shard-iterator "\"$ITER\""
eq "records at LATEST through a quoted iterator" "$(get 'len(d["Records"])')" 0
NEXT=$(get 'd["NextShardIterator"]')
put_one "$(h key-in-range "$LO_B" "$HI_B")" "$(h text 40)"
eq "shard of the new record" "$PUT_SHARD" "$SHARD_B"
read_shard first "$NEXT" 10
LAST_B=$(( $(h count "$WRITTEN" "$SHARD_B") - 1 ))
check "the record put after taking the LATEST iterator" h compare "$READ" "$WRITTEN" "$SHARD_B" "$LAST_B"

step "SplitShard $SHARD_A at the midpoint of its hash range"
MID=$(big "($LO_A + $HI_A + 1) // 2")
MID_1=$(big "$MID - 1")
kin split-shard --stream-name "$STREAM" --shard-to-split "$SHARD_A" --new-starting-hash-key "$MID"
aws_wait stream-exists "$STREAM"   # waits for ACTIVE again
kin describe-stream-summary --stream-name "$STREAM"
eq "StreamStatus after split" "$(get 'd["StreamDescriptionSummary"]["StreamStatus"]')" ACTIVE
eq "OpenShardCount after split" "$(get 'd["StreamDescriptionSummary"]["OpenShardCount"]')" 3
shards
eq "shards listed after split" "${#SHARDS[@]}" 4
CHILDREN=()
for line in "${SHARDS[@]}"; do
  read -r id lo hi parent _ state <<<"$line"
  if [[ $id == "$SHARD_A" ]]; then eq "state of the parent" "$state" closed; fi
  if [[ $parent == "$SHARD_A" ]]; then CHILDREN+=("$id $lo $hi $state"); fi
done
eq "children of $SHARD_A" "${#CHILDREN[@]}" 2
read -r CHILD_LO lo hi state <<<"${CHILDREN[0]}"
eq "lower child range and state" "$lo $hi $state" "$LO_A $MID_1 open"
read -r CHILD_HI lo hi state <<<"${CHILDREN[1]}"
eq "upper child range and state" "$lo $hi $state" "$MID $HI_A open"

step "Put records to the children"
h gen-in-range 10 "$LO_A" "$MID_1" "$WORK/batch.json"
put_batch "$WORK/batch.json"
h gen-in-range 10 "$MID" "$HI_A" "$WORK/batch.json"
put_batch "$WORK/batch.json"
# ExplicitHashKey overrides the key's MD5: this key hashes to the lower child,
# the explicit hash is the first key of the upper child.
put_one "$(h key-in-range "$LO_A" "$MID_1")" "$(h text 30)" --explicit-hash-key "$MID"
eq "shard chosen by ExplicitHashKey" "$PUT_SHARD" "$CHILD_HI"
eq "records in the children" "$(h count "$WRITTEN" "$CHILD_LO") $(h count "$WRITTEN" "$CHILD_HI")" "10 11"

step "Read the closed parent to its end"
iterator "$SHARD_A" TRIM_HORIZON
read_shard closed "$ITER"
check "parent records" h compare "$READ" "$WRITTEN" "$SHARD_A"
eq "NextShardIterator at the end of the parent" "$(get 'd.get("NextShardIterator")')" null
# awscli 1.46's botocore knows ChildShards (requirements.txt pins it).
eq "ChildShards of the parent" "$(get '" ".join(sorted(c["ShardId"] for c in d.get("ChildShards", [])))')" \
  "$(sorted_words "$CHILD_LO" "$CHILD_HI")"
eq "ChildShards name their parent" "$(get "all(c['ParentShards'] == ['$SHARD_A'] for c in d['ChildShards'])")" true

step "Read the children"
for shard in "$CHILD_LO" "$CHILD_HI"; do
  iterator "$shard" TRIM_HORIZON
  read_shard tip "$ITER"
  check "$shard records" h compare "$READ" "$WRITTEN" "$shard"
done

step "MergeShards $CHILD_LO + $CHILD_HI"
kin merge-shards --stream-name "$STREAM" --shard-to-merge "$CHILD_LO" --adjacent-shard-to-merge "$CHILD_HI"
aws_wait stream-exists "$STREAM"
shards
eq "shards listed after merge" "${#SHARDS[@]}" 5
MERGED=""
for line in "${SHARDS[@]}"; do
  read -r id lo hi parent adjacent state <<<"$line"
  if [[ $parent == "$CHILD_LO" ]]; then
    MERGED=$id
    eq "merged shard: range, adjacent parent, state" "$lo $hi $adjacent $state" "$LO_A $HI_A $CHILD_HI open"
  fi
  if [[ $id == "$CHILD_LO" || $id == "$CHILD_HI" ]]; then eq "state of $id after merge" "$state" closed; fi
done
[[ -n $MERGED ]] || fail "no shard has ParentShardId $CHILD_LO"
for shard in "$CHILD_LO" "$CHILD_HI"; do
  iterator "$shard" TRIM_HORIZON
  read_shard closed "$ITER"
  check "$shard records to its end" h compare "$READ" "$WRITTEN" "$shard"
  eq "ChildShards at the end of $shard" "$(get '" ".join(c["ShardId"] for c in d.get("ChildShards", []))')" "$MERGED"
done
put_one "$(h key-in-range "$LO_A" "$HI_A")" "$(h text 20)"
eq "shard receiving a write after the merge" "$PUT_SHARD" "$MERGED"
iterator "$MERGED" TRIM_HORIZON
read_shard tip "$ITER"
check "merged shard records" h compare "$READ" "$WRITTEN" "$MERGED"

step "Retention 24 -> 48 -> 24"
# These helpers set a variable rather than print, so that `kin` runs in this
# shell (a failure inside $(...) would not stop the script).
retention() {
  kin describe-stream-summary --stream-name "$STREAM"
  HOURS=$(get 'd["StreamDescriptionSummary"]["RetentionPeriodHours"]')
}
retention
eq "default RetentionPeriodHours" "$HOURS" 24
kin increase-stream-retention-period --stream-name "$STREAM" --retention-period-hours 48
retention
eq "RetentionPeriodHours after increase" "$HOURS" 48
kin decrease-stream-retention-period --stream-name "$STREAM" --retention-period-hours 24
retention
eq "RetentionPeriodHours after decrease" "$HOURS" 24

step "Tags by stream name and by ARN"
kin describe-stream-summary --stream-name "$STREAM"
ARN=$(get 'd["StreamDescriptionSummary"]["StreamARN"]')
tags_by_name() {
  kin list-tags-for-stream --stream-name "$STREAM"
  TAGS=$(get '" ".join(sorted(t["Key"] + "=" + t["Value"] for t in d["Tags"]))')
}
tags_by_arn() {
  kin list-tags-for-resource --resource-arn "$ARN"
  TAGS=$(get '" ".join(sorted(t["Key"] + "=" + t["Value"] for t in d["Tags"]))')
}
tags_by_name
eq "tags of a new stream" "$TAGS" ""
kin add-tags-to-stream --stream-name "$STREAM" --tags env=test,team=data
tags_by_name
eq "tags after add-tags-to-stream" "$TAGS" "env=test team=data"
kin remove-tags-from-stream --stream-name "$STREAM" --tag-keys team
tags_by_name
eq "tags after remove-tags-from-stream" "$TAGS" "env=test"
kin tag-resource --resource-arn "$ARN" --tags owner=tributary
tags_by_arn
eq "list-tags-for-resource after tag-resource" "$TAGS" "env=test owner=tributary"
tags_by_name
eq "list-tags-for-stream after tag-resource" "$TAGS" "env=test owner=tributary"
kin untag-resource --resource-arn "$ARN" --tag-keys owner
tags_by_arn
eq "list-tags-for-resource after untag-resource" "$TAGS" "env=test"

step "ListStreams with --limit 1 and --next-token, and the CLI's own pagination"
for i in 0 1 2; do
  kin create-stream --stream-name "$STREAM-list-$i" --shard-count 1
  CREATED+=("$STREAM-list-$i")
done
for i in 0 1 2; do aws_wait stream-exists "$STREAM-list-$i"; done
SEEN=()
ARGS=(--limit 1)   # a manual paging argument turns the CLI's auto-pagination off
for n in $(seq 100); do
  kin list-streams "${ARGS[@]}"
  eq "names on a page of list-streams --limit 1" "$(get 'len(d["StreamNames"]) <= 1')" true
  mapfile -t -O "${#SEEN[@]}" SEEN < <(get '"\n".join(d["StreamNames"])' | sed '/^$/d')
  if [[ $(get 'd["HasMoreStreams"]') != true ]]; then break; fi
  TOKEN=$(get 'd.get("NextToken") or ""')
  [[ -n $TOKEN ]] || fail "HasMoreStreams is true but NextToken is missing"
  ARGS=(--limit 1 --next-token "$TOKEN")
done
eq "no stream listed twice" "$(printf '%s\n' "${SEEN[@]}" | sort | uniq -d | paste -sd' ')" ""
for name in "${CREATED[@]}"; do
  check "$name listed" grep -qxF "$name" <(printf '%s\n' "${SEEN[@]}")
done
kin list-streams --page-size 1
eq "streams from the CLI's pagination" "$(get '" ".join(sorted(d["StreamNames"]))')" "$(sorted_words "${SEEN[@]}")"

step "ListShards with --max-results 1 and --next-token"
shards
ALL_IDS=$(get '" ".join(s["ShardId"] for s in d["Shards"])')
IDS=()
# NextToken identifies the stream; AWS rejects a stream name beside it.
ARGS=(--stream-name "$STREAM" --max-results 1)
for n in $(seq 100); do
  kin list-shards "${ARGS[@]}"
  eq "shards on a page of list-shards --max-results 1" "$(get 'len(d["Shards"]) <= 1')" true
  mapfile -t -O "${#IDS[@]}" IDS < <(get '"\n".join(s["ShardId"] for s in d["Shards"])' | sed '/^$/d')
  TOKEN=$(get 'd.get("NextToken") or ""')
  if [[ -z $TOKEN ]]; then break; fi
  ARGS=(--next-token "$TOKEN" --max-results 1)
done
eq "shards seen one page at a time" "${IDS[*]}" "$ALL_IDS"

step "DeleteStream and wait stream-not-exists"
for name in "${CREATED[@]}"; do kin delete-stream --stream-name "$name"; done
for name in "${CREATED[@]}"; do aws_wait stream-not-exists "$name"; done
kin list-streams
for name in "${CREATED[@]}"; do
  eq "$name still listed after delete" "$(get "'$name' in d['StreamNames']")" false
done
