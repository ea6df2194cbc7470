//! Arbitrary bytes as a resource policy (what `PutResourcePolicy` accepts from any caller), and
//! every policy that parses evaluated once. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_auth::policy::{evaluate, Context, Policy, Request};
use tributary_auth::Principal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Policy::parse_identity(text);
    if let Ok(policy) = Policy::parse_resource(text) {
        let who = Principal::user("AKIDFUZZ", "111122223333", "fuzz", vec![]);
        let mut ctx = Context::for_request(&who, 1_704_069_000, None, true);
        ctx.set_all("aws:TagKeys", vec!["a".into(), "b".into()]);
        let request = Request {
            principal: &who,
            action: "kinesis:PutRecords",
            resource: "arn:aws:kinesis:us-east-1:444455556666:stream/s",
            context: &ctx,
        };
        let _ = evaluate(&request, &[], Some(&policy));
    }
});
