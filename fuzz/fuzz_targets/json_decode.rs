//! JSON bodies for any operation: neither path may panic, and the fast path (`shaped`) must
//! produce exactly what the reference path (parse, then type check) produces, and accept
//! nothing the reference path rejects.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::{Operation, Value};
use tributary_protocol::{check, parse_body, shaped, validate, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let shape = Operation::ALL[pick as usize % Operation::ALL.len()].input_shape();
    let reference = parse_body(Format::Json, body)
        .ok()
        .and_then(|raw| check::check(shape, raw, Format::Json).ok());
    let fast: Option<Value> = shaped::decode(shape, body);
    match (&fast, &reference) {
        (Some(f), Some(r)) => assert_eq!(f, r),
        (Some(f), None) => panic!("fast path accepted a rejected body: {f:?}"),
        _ => {}
    }
    if let Some(v) = reference {
        let _ = validate::validate(shape, &v);
    }
});
