//! Arbitrary bytes as a CBOR 1.1 PutRecords body (what the Java SDK and KPL send): parsing, the
//! type check and validation must answer an error or a value, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::Operation;
use tributary_protocol::{check_value, parse_body, Format};

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = parse_body(Format::Cbor, data) {
        let _ = check_value(Operation::PutRecords.input_shape(), Format::Cbor, raw);
    }
});
