//! Arbitrary bytes as a JSON 1.1 PutRecords body: parsing, the type check and validation must
//! answer an error or a value, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::Operation;
use tributary_protocol::{check_value, parse_body, Format};

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = parse_body(Format::Json, data) {
        let _ = check_value(Operation::PutRecords.input_shape(), Format::Json, raw);
    }
});
