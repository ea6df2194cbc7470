#!/usr/bin/env python3
"""Encryption at rest with real clients, over TLS with verified signatures and policies.

Usage: scenario_kms.py BINARY

- The AWS CLI creates a key and an alias in the built-in key service (`aws kms create-key`,
  `aws kms create-alias`) and encrypts a stream (`aws kinesis start-stream-encryption`),
  unchanged, against the same endpoint as Kinesis.
- boto3's KMS client: encrypt/decrypt round trip, generate-data-key.
- A replication user with exactly the permissions change-data-capture tools document for an
  encrypted target (kinesis:PutRecords and kinesis:DescribeStream on the stream,
  kinesis:ListStreams on *, kms:Encrypt and kms:DescribeKey on the key, kms:GenerateDataKey
  on *) writes to it; the same user without the KMS statements gets KMSAccessDeniedException.
The last line is always "kms: N passed, M failed".
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "111122223333"
REGION = "us-east-1"
ADMIN = ("AKIAKMSADMINEXAMPLE0", "admin/secret+KEY0123456789abcdefghijklmn")
REPL = ("AKIAREPLICATOREXAMPL", "replicator/secret+KEY0123456789abcdefghij")
BARE = ("AKIANOKMSREPLICATOR0", "nokms/secret+KEY0123456789abcdefghijklmno")
TARGET = "cdc-encrypted"
ALIAS = "alias/cdc-target"
MARKER = b"kms-scenario-row-"

passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1


def error_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("the call should have failed")


def stream_arn(name):
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def replicator_policy(key_arn):
    statements = [
        {"Effect": "Allow", "Action": ["kinesis:PutRecords", "kinesis:DescribeStream"], "Resource": stream_arn(TARGET)},
        {"Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*"},
    ]
    if key_arn:
        statements += [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": key_arn},
            {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*"},
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def start(binary, work, key_arn=None):
    """Starts the server: the admin alone at first; once the key exists, again on the same
    data with the replication users, whose policies name that key's ARN."""
    if not os.path.exists(os.path.join(work, "ca.pem")):
        subprocess.run([binary, "cert", "--out", work, "--san", "localhost", "--san", "127.0.0.1"], check=True, stdout=subprocess.DEVNULL)
    users = ""
    people = [("admin", ADMIN, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kinesis:*", "kms:*"], "Resource": "*"}]})]
    if key_arn:
        people += [("replicator", REPL, replicator_policy(key_arn)), ("replicator-nokms", BARE, replicator_policy(None))]
    for name, (key, secret), policy in people:
        with open(os.path.join(work, f"{name}.secret"), "w") as f:
            f.write(secret)
        users += (
            f'[[users]]\nname = "{name}"\naccess_key_id = "{key}"\n'
            f'secret_access_key_file = "{work}/{name}.secret"\n'
            f"policies = ['''{json.dumps(policy)}''']\n"
        )
    config = os.path.join(work, "tributary.toml")
    with open(config, "w") as f:
        f.write(
            f'account_id = "{ACCOUNT}"\n'
            f'tls_cert = "{work}/server.pem"\ntls_key = "{work}/server-key.pem"\n'
            f'[[streams]]\nname = "{TARGET}"\nshard_count = 2\n' + users
        )
    proc = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--data-dir", os.path.join(work, "data"), "--config", config],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.log"), "w"), text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("TRIBUTARY_LISTENING "):
            return proc, f"https://localhost:{line.split()[1].rsplit(':', 1)[1]}"
        if proc.poll() is not None:
            break
    raise AssertionError("the server did not start; see " + os.path.join(work, "server.log"))


def client(service, endpoint, ca, creds):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1], verify=ca,
        config=Config(retries={"total_max_attempts": 1}),
    )


def aws(endpoint, ca, *args):
    """The AWS CLI as the admin user, answer parsed from JSON."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ADMIN[0], AWS_SECRET_ACCESS_KEY=ADMIN[1], AWS_DEFAULT_REGION=REGION,
               AWS_CA_BUNDLE=ca, AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    out = subprocess.run(["aws", "--endpoint-url", endpoint, "--output", "json", *args],
                         env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)}: {out.stderr.strip()}")
    return json.loads(out.stdout) if out.stdout.strip() else {}


def wait_active(kinesis):
    for _ in range(100):
        d = kinesis.describe_stream_summary(StreamName=TARGET)["StreamDescriptionSummary"]
        if d["StreamStatus"] == "ACTIVE":
            return d
        time.sleep(0.1)
    raise AssertionError("the stream did not become ACTIVE")


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="tributary-kms-")
    proc, endpoint = start(binary, work)
    ca = os.path.join(work, "ca.pem")
    try:
        # The AWS CLI, unchanged.
        meta = aws(endpoint, ca, "kms", "create-key", "--description", "cdc target key")["KeyMetadata"]
        check(meta["KeyState"] == "Enabled" and meta["Arn"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"), f"aws kms create-key: {meta}")
        aws(endpoint, ca, "kms", "create-alias", "--alias-name", ALIAS, "--target-key-id", meta["KeyId"])

        # Again with the replication users, whose policies name the key; the key and its
        # alias survive the restart.
        proc.terminate()
        proc.wait(timeout=10)
        proc, endpoint = start(binary, work, meta["Arn"])
        aliases = aws(endpoint, ca, "kms", "list-aliases")["Aliases"]
        check(any(a["AliasName"] == ALIAS and a.get("TargetKeyId") == meta["KeyId"] for a in aliases), f"aws kms list-aliases: {aliases}")
        aws(endpoint, ca, "kinesis", "start-stream-encryption", "--stream-name", TARGET, "--encryption-type", "KMS", "--key-id", ALIAS)
        admin = client("kinesis", endpoint, ca, ADMIN)
        d = wait_active(admin)
        check(d["EncryptionType"] == "KMS" and d["KeyId"] == ALIAS, f"aws kinesis start-stream-encryption: {d}")

        # boto3's KMS client against the same endpoint.
        kms = client("kms", endpoint, ca, ADMIN)
        blob = kms.encrypt(KeyId=ALIAS, Plaintext=b"round trip", EncryptionContext={"purpose": "scenario"})["CiphertextBlob"]
        check(b"round trip" not in blob, "Encrypt returns ciphertext")
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "scenario"})
        check(out["Plaintext"] == b"round trip" and out["KeyId"] == meta["Arn"], f"Decrypt round trip: {out.get('KeyId')}")
        code, _ = error_of(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "other"}))
        check(code == "InvalidCiphertextException", f"Decrypt with another context: {code}")
        dk = kms.generate_data_key(KeyId=meta["KeyId"], KeySpec="AES_256")
        check(len(dk["Plaintext"]) == 32, "GenerateDataKey returns 32 bytes")
        check(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"], "the data key decrypts back")

        # The replication user writes to the encrypted stream over TLS.
        repl = client("kinesis", endpoint, ca, REPL)
        check(TARGET in repl.list_streams()["StreamNames"], "ListStreams as the replicator")
        desc = repl.describe_stream(StreamName=TARGET)["StreamDescription"]
        check(desc["EncryptionType"] == "KMS" and desc["KeyId"] == ALIAS, f"DescribeStream as the replicator: {desc.get('EncryptionType')} {desc.get('KeyId')}")
        out = repl.put_records(StreamName=TARGET, Records=[{"Data": MARKER + b"%d" % i, "PartitionKey": str(i)} for i in range(20)])
        check(out["FailedRecordCount"] == 0 and out["EncryptionType"] == "KMS", f"PutRecords on the encrypted stream: {out.get('EncryptionType')}")

        # The admin reads them back, decrypted.
        got = []
        for shard in admin.list_shards(StreamName=TARGET)["Shards"]:
            it = admin.get_shard_iterator(StreamName=TARGET, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            recs = admin.get_records(ShardIterator=it)["Records"]
            check(all(r["EncryptionType"] == "KMS" for r in recs), "GetRecords marks the records KMS")
            got += [r["Data"] for r in recs]
        check(sorted(got) == sorted(MARKER + b"%d" % i for i in range(20)), f"every record back: {len(got)}")

        # Without the KMS statements: KMSAccessDeniedException.
        bare = client("kinesis", endpoint, ca, BARE)
        code, msg = error_of(lambda: bare.put_records(StreamName=TARGET, Records=[{"Data": b"x", "PartitionKey": "k"}]))
        check(code == "KMSAccessDeniedException", f"PutRecords without KMS permissions: {code} {msg}")
        check(f"user/replicator-nokms is not authorized to perform: kms:GenerateDataKey on resource: {meta['Arn']}" in msg, msg)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"kms: {passed} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL {e}")
        print(f"kms: {passed} passed, 1 failed")
        sys.exit(1)
