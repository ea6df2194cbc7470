//! Arbitrary bytes as a CBOR 1.1 body (what the Java SDK and KPL send) for any operation: the
//! server's answer (the typed decoders first, the reference path for what they leave) must be
//! exactly the reference path's answer. Neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::{ErrorCode, Operation};
use tributary_protocol::{checked_input, parse, parse_body, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let op = Operation::ALL[pick as usize % Operation::ALL.len()];
    let served = parse(Some(op), Format::Cbor, body).and_then(|p| p.check(op, Format::Cbor));
    let reference = parse_body(Format::Cbor, body).and_then(|raw| checked_input(op, Format::Cbor, raw));
    // The reference path ends in the typed decoder too: a body the checks accept but the
    // decoder refuses would be an internal failure on both sides.
    if let Err(e) = &served {
        assert_ne!(e.code, ErrorCode::InternalFailureException, "{e}");
    }
    assert_eq!(served, reference);
});
