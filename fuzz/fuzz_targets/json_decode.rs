//! JSON bodies for any operation: the server's answer (the typed decoders first, the reference
//! path for what they leave) must be exactly the reference path's answer: the same typed input,
//! or the same error, word for word. Neither may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::{ErrorCode, Operation};
use tributary_protocol::{checked_input, parse, parse_body, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let op = Operation::ALL[pick as usize % Operation::ALL.len()];
    let served = parse(Some(op), Format::Json, body).and_then(|p| p.check(op, Format::Json));
    let reference = parse_body(Format::Json, body).and_then(|raw| checked_input(op, Format::Json, raw));
    // The reference path ends in the typed decoder too: a body the checks accept but the
    // decoder refuses would be an internal failure on both sides.
    if let Err(e) = &served {
        assert_ne!(e.code, ErrorCode::InternalFailureException, "{e}");
    }
    assert_eq!(served, reference);
});
