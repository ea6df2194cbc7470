//! Arbitrary bytes as a request of the built-in key service (the first byte picks the
//! operation, the rest is the JSON body), and as a ciphertext blob handed to Decrypt. Nothing
//! may panic, and no blob opens under a key it was not sealed with.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_kms::api::{parse, KmsOperation};
use tributary_kms::blob::open_blob;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let op = KmsOperation::ALL[usize::from(first) % KmsOperation::ALL.len()];
    if let Ok(req) = parse(op, body) {
        assert_eq!(req.operation(), op);
    }
    let context = [("aws:kinesis:arn".to_string(), "arn".to_string())];
    assert!(open_blob(&[7u8; 32], data, &context).is_none());
});
